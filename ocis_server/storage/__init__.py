"""Storage providers: spaces, the node tree, blobs, dead properties, locks."""

from .api import (
    AcceptedUser,
    InviteToken,
    Link,
    LockRecord,
    Node,
    OcmShare,
    ReceivedShare,
    RemoteLink,
    RemoteShare,
    SearchPage,
    Share,
    Space,
    Storage,
    TrashItem,
    UploadResult,
    UploadSession,
    Version,
    knows_storage,
)

__all__ = ["AcceptedUser", "InviteToken", "Link", "LockRecord", "Node", "OcmShare", "ReceivedShare",
           "RemoteLink", "RemoteShare", "SearchPage", "Share",
           "Space", "Storage", "TrashItem",
           "UploadResult", "UploadSession", "Version", "knows_storage"]
