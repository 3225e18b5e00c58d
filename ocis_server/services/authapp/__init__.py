"""The `auth-app` service: app tokens under `/auth-app/tokens` (protocol-notes.md §10).
Its spec lives in the one service table; the factory is `app.create_app`."""
