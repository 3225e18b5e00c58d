"""ocdav: the ownCloud WebDAV service (`/remote.php/webdav`, `/webdav`, `/[remote.php/]dav/files`,
`/[remote.php/]dav/spaces`, status.php). Its entry in the SERVICES table names `app:create_app`.
"""
