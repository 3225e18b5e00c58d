"""Modal dialogs, each a typed `ModalScreen[T]`: confirm, prompt, help, text, trash."""
