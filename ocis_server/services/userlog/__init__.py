"""The `userlog` service: in-app notifications (`/ocs/v2.php/apps/notifications/api/v1/notifications`,
oCIS userlog) for shares received and space membership. Its spec lives in the one service table;
the factory is `app.create_app`."""
