"""The `graph` service: the LibreGraph API under `/graph` — `me`, `me/drives`, `drives`, and the
directory: `users`, `groups`, `applications` and role assignments.
Its spec lives in the one service table; the factory is `app.create_app`."""
