"""Who is making the change being handled: set once per request by the proxy (the authenticated
principal), read where the change is committed, so events name their executant without every
storage call passing a user along."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ACTOR: ContextVar[str] = ContextVar("ocis_actor", default="")


@contextmanager
def acting(user_id: str) -> Iterator[None]:
    """Changes made inside are attributed to `user_id` (tests, background jobs)."""
    token = ACTOR.set(user_id)
    try:
        yield
    finally:
        ACTOR.reset(token)
