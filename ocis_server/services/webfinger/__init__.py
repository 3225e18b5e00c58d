"""The `webfinger` service: RFC 7033 lookups at `/.well-known/webfinger` (protocol-notes.md §8).
Its spec lives in the one service table; the factory is `app.create_app`."""
