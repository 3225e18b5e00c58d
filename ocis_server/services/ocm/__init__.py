"""The `ocm` service: Open Cloud Mesh federation (docs/federation.md). Discovery at
`/.well-known/ocm` and `/ocm-provider`, the server-to-server API under `/ocm`, the trusted providers
(`providers`) and the one outbound client that talks to them (`client`). Off unless
OCIS_ENABLE_OCM=true; its spec lives in the one service table, the factory is `app.create_app`."""
