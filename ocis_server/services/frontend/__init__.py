"""The `frontend` service: the OCS API (`/ocs/v1.php`, `/ocs/v2.php`) — capabilities, config,
cloud/user and cloud/users. Its spec lives in the one service table; the factory is
`app.create_app`."""
