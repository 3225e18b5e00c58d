"""The `sse` service: Server-Sent Events to clients at
`/ocs/v2.php/apps/notifications/api/v1/notifications/sse` (oCIS `sse` + `clientlog`).
Its spec lives in the one service table; the factory is `app.create_app`."""
