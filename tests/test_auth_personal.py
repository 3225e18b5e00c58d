"""Every member's personal space, made once whoever creates the user (runtime, Graph, OIDC)."""

from __future__ import annotations

from pathlib import Path

from ocis_server.auth.personal import ensure_personal_space
from ocis_server.identity import User
from ocis_server.storage.sqlite import SqliteStorage


async def test_made_once_with_the_user_id_and_alias(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "storage", "1284d238-aa92-42ce-bdc4-0b0000009157")
    try:
        marie = User(id="5a1e3b9c-0000-4000-8000-00000000beef", username="Marie",
                     display_name="Marie Curie", email="", role="user")
        assert await ensure_personal_space(storage, marie) is True
        assert await ensure_personal_space(storage, marie) is False     # already there
        space = await storage.get_space(marie.id)
        assert (space.owner_id, space.alias, space.name) == (
            marie.id, "personal/marie", "Marie Curie")
    finally:
        await storage.close()
