"""idm: the embedded LDAP v3 server, a read-only view of the user store as oCIS's idm lays it out
(`o=libregraph-idm`). `server.IdmServer` is what the runtime's idm unit runs."""
