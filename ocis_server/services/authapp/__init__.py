"""The `auth-app` service: app tokens under `/auth-app/tokens` (reference/ocis-api.md §3.11).
Its spec lives in the one service table; the factory is `app.create_app`."""
