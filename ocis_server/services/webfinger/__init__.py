"""The `webfinger` service: RFC 7033 lookups at `/.well-known/webfinger` (reference/ocis-api.md §3.8).
Its spec lives in the one service table; the factory is `app.create_app`."""
