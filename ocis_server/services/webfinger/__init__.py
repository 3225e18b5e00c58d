"""The `webfinger` service: RFC 7033 lookups at `/.well-known/webfinger` (reference/ocis-api.md §3.8).
Its spec lives in the one service table; the factory is `app.create_app`."""

from ocis_server.services import by_name

SPEC = by_name()["webfinger"]
