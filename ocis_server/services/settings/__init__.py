"""The `settings` service: oCIS's settings API at `/api/v0/settings/*` (POST, protojson bodies) —
the profile bundle's per-user values, the role bundles and who holds which role. Its spec lives in
the one service table; the factory is `app.create_app`."""
