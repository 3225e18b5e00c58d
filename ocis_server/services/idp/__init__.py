"""The `idp` service: the embedded OpenID Connect provider at lico's paths (`/konnect/v1/...`,
`/signin/v1/...`) plus `/.well-known/openid-configuration`. Its spec lives in the one service table;
the factory is `app.create_app`."""
