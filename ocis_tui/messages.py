"""Messages the workers post to the browser when something it shows has changed."""

from __future__ import annotations

from textual.message import Message

from ocis_tui.remote import RemoteApi
from ocis_tui.transfers import Transfer


class Connected(Message):
    """The server answered and the user is known: the browser can load the spaces."""

    def __init__(self, remote: RemoteApi) -> None:
        super().__init__()
        self.remote = remote


class ConnectFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class TransferFinished(Message):
    """A transfer ended (done, failed or cancelled); uploads refresh the folder they went to."""

    def __init__(self, transfer: Transfer, space_id: str, folder: str) -> None:
        super().__init__()
        self.transfer = transfer
        self.space_id = space_id
        self.folder = folder


class RemoteChanged(Message):
    """The poll saw a new root etag for the space on screen."""

    def __init__(self, space_id: str) -> None:
        super().__init__()
        self.space_id = space_id
