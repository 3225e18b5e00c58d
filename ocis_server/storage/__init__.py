"""Storage providers: spaces, the node tree, blobs, dead properties, locks."""

from .api import (
    Link,
    LockRecord,
    Node,
    OcmShare,
    ReceivedShare,
    RemoteShare,
    SearchPage,
    Share,
    Space,
    Storage,
    TrashItem,
    UploadResult,
    UploadSession,
    Version,
)

__all__ = ["Link", "LockRecord", "Node", "OcmShare", "ReceivedShare", "RemoteShare", "SearchPage", "Share",
           "Space", "Storage", "TrashItem",
           "UploadResult", "UploadSession", "Version"]
