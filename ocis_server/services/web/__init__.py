"""web: the page at `/` (what this server is and how to connect; after sign-in through the
embedded IdP's `web` client, the user's spaces and the shares waiting for them) and the `web`
client's OIDC redirect targets. Server-rendered HTML, no JavaScript."""
