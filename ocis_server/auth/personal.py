"""Every member's personal space: its id is the user's id, its alias `personal/<username>`.
Made for users the runtime bootstraps, the Graph API creates and OIDC provisioning creates.
"""

from __future__ import annotations

from ocis_server.domain.errors import AlreadyExists, NotFound
from ocis_server.identity import User
from ocis_server.storage import Storage


async def ensure_personal_space(storage: Storage, user: User) -> bool:
    """Create `user`'s personal space unless it exists; True when this call created it."""
    try:
        await storage.get_space(user.id)
        return False
    except NotFound:
        pass
    try:
        await storage.create_space(space_type="personal", name=user.display_name,
                                   owner_id=user.id, alias=f"personal/{user.username.lower()}",
                                   space_id=user.id)
    except AlreadyExists:           # made meanwhile by a concurrent request
        return False
    return True
