"""Storage providers: spaces, the node tree, blobs, dead properties, locks (DESIGN.md §4)."""

from .api import (
    LockRecord,
    Node,
    Space,
    Storage,
    TrashItem,
    UploadResult,
    UploadSession,
    Version,
)

__all__ = ["LockRecord", "Node", "Space", "Storage", "TrashItem", "UploadResult", "UploadSession",
           "Version"]
