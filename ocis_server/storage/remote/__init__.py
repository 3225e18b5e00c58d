"""A storage provider in another process (`ocis storage-users server` on another node): the
internal HTTP API it serves on STORAGE_USERS_HTTP_ADDR (server.py), the RemoteStorage a front
uses in its place (client.py), and the one codec both speak (codec.py). Decision 0017."""
