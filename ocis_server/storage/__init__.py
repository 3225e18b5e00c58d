"""Storage providers: spaces, the node tree, blobs, dead properties, locks."""

from .api import (
    AcceptedUser,
    BlobBody,
    BlobSource,
    InviteToken,
    Link,
    LockRecord,
    Node,
    OcmShare,
    ReceivedShare,
    RemoteBlob,
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

__all__ = ["AcceptedUser", "BlobBody", "BlobSource", "RemoteBlob", "InviteToken", "Link", "LockRecord", "Node", "OcmShare", "ReceivedShare",
           "RemoteLink", "RemoteShare", "SearchPage", "Share",
           "Space", "Storage", "TrashItem",
           "UploadResult", "UploadSession", "Version", "knows_storage"]
