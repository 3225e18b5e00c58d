"""The storage interface every protocol talks to. Handlers never touch the disk themselves.

All methods are coroutines; implementations run SQLite and file I/O off the event loop.
Paths are tuples of names already validated by `domain.paths.split_path`; `()` is the space root.
Every change updates etag, tree mtime and tree size of all ancestors up to the space root in the
same transaction. Errors are the domain errors (NotFound, AlreadyExists, Conflict, ...).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ocis_server.domain import roles

Parts = Sequence[str]


@dataclass(frozen=True, slots=True)
class Space:
    id: str                    # the space uuid (personal: the owner's user id); root node id == id
    storage_id: str
    type: str                  # personal | project
    name: str
    alias: str                 # personal/<username> | project/<name-lowercased-dashed>
    owner_id: str              # user id of the owner (personal) or creator (project)
    quota_total: int           # bytes; 0 = unlimited
    used: int                  # tree size of the root
    description: str
    etag: str                  # etag of the root node, unquoted
    mtime: float               # tree mtime of the root
    disabled: bool = False
    unavailable: bool = False  # listed from the space registry's snapshot: its provider is away
                               # (storage/router: used, etag and mtime are not known then)

    @property
    def space_id(self) -> str:
        """`<storageid>$<spaceid>` as clients see it."""
        return f"{self.storage_id}${self.id}"


@dataclass(frozen=True, slots=True)
class Node:
    id: str                    # node uuid; a space root's id is the space id
    space_id: str              # space uuid
    storage_id: str
    parent_id: str | None      # None for the space root
    name: str                  # "" for the space root
    is_dir: bool
    size: int                  # bytes for files, tree size for folders
    mtime: float               # unix seconds; folders: tree mtime
    etag: str                  # unquoted hex; changes with content/metadata, folders with anything below
    checksums: dict[str, str] = field(default_factory=dict)   # {"SHA1": hex, "MD5": hex, "ADLER32": hex}
    blob_id: str | None = None
    owner_id: str = ""

    @property
    def resource_id(self) -> str:
        return f"{self.storage_id}${self.space_id}!{self.id}"

    @property
    def parent_resource_id(self) -> str | None:
        if self.parent_id is None:
            return None
        return f"{self.storage_id}${self.space_id}!{self.parent_id}"


@dataclass(frozen=True, slots=True)
class UploadResult:
    node: Node
    created: bool              # True: new file (201), False: overwritten (204)


@dataclass(frozen=True, slots=True)
class LockRecord:
    token: str                 # "opaquelocktoken:<uuid>"
    space_id: str
    path: tuple[str, ...]      # the lock root; may name a not-yet-existing resource (lock-null)
    depth_infinity: bool
    exclusive: bool
    owner_xml: str             # the <D:owner> content as the client sent it (serialized XML)
    principal_id: str
    expires: float             # unix seconds


# --- trash and versions (TRASH+VERSIONS) ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class TrashItem:
    key: str                   # the id of the trashed root node (ids survive trash and restore);
                               # `<key>/<name>/...` for something inside a trashed folder
    space_id: str              # space uuid
    name: str                  # the name it had when it was deleted
    original_path: tuple[str, ...]   # where it was, from the space root (ends with `name`)
    is_dir: bool
    size: int                  # bytes (tree size for folders)
    deleted: float             # unix seconds


@dataclass(frozen=True, slots=True)
class Version:
    key: str                   # opaque per file (decimal); newest versions have the largest keys
    node_id: str
    size: int
    mtime: float               # the mtime the content had when it was current
    etag: str                  # the etag it had when it was current, unquoted
    checksums: dict[str, str] = field(default_factory=dict)


# --- upload sessions (TUS, chunking NG) ------------------------------------------------------

@dataclass(frozen=True, slots=True)
class UploadSession:
    """A resumable upload in progress: a record plus partial data under the storage root."""

    id: str
    kind: str                  # tus (bytes appended in order) | chunks (chunking NG, any order)
    user_id: str
    space_id: str              # "" for a chunked upload until its final MOVE names the target
    path: tuple[str, ...]
    size: int                  # announced total; -1 when not announced (chunked)
    offset: int                # bytes received (tus: the resume offset)
    mtime: float | None
    checksum: tuple[str, str] | None   # (algo, hex) the whole file must match
    if_match: str | None
    created: float             # unix seconds
    expires: float             # unix seconds
    transfer: str = ""         # chunking NG: the client's transfer id

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires


# --- shares (SHARING; storage/shares.py) --------------------------------------------------------

SHARE_STATES = ("pending", "accepted", "declined")


@dataclass(frozen=True, slots=True)
class Share:
    """A user or group share of one node. Shares of a trashed node are invisible until restore."""

    id: str                    # `<storageid>:<spaceid>:<uuid>` as oCIS spells share ids
    node_id: str
    space_id: str              # space uuid of the shared node
    grantee_type: str          # user | group
    grantee_id: str            # user id or group id
    role_id: str               # unified role id; "" for a custom OCS bitmask
    permissions: int           # OCS bitmask (resharing stripped)
    creator_id: str
    ctime: float
    mtime: float
    expiration: float | None   # unix seconds; None = never
    initial_state: str = "accepted"   # the recipients' state until they change it

    def expired(self, now: float | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (now or time.time())


@dataclass(frozen=True, slots=True)
class ReceivedShare:
    share: Share
    user_id: str               # the recipient
    state: str                 # one of SHARE_STATES
    hidden: bool
    mount_point: str           # the name of the mount in the share jail (unique per recipient)


# --- OCM invitations and accepted remote users (storage/invites.py) ------------------------------


@dataclass(frozen=True, slots=True)
class InviteToken:
    """An OCM invitation one of our users made: whoever redeems the token at the user's
    `/ocm/invite-accepted` before `expiration` becomes their contact (and they its)."""

    token: str                 # the secret the inviter passes on (`<token>@<our domain>`)
    user_id: str               # the inviter
    description: str
    recipient: str             # the e-mail address it was meant for ("" = anyone)
    expiration: float          # unix seconds
    ctime: float

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expiration


@dataclass(frozen=True, slots=True)
class AcceptedUser:
    """A remote user one of our users exchanged an invitation with (a federated contact)."""

    user_id: str               # our user
    provider: str              # the contact's OCM domain (listed in the providers file)
    remote_id: str             # the contact's user id at that provider
    display_name: str
    mail: str
    ctime: float

    @property
    def address(self) -> str:
        """The federated address `<remote id>@<provider>`."""
        return f"{self.remote_id}@{self.provider}"


# --- federated shares received over OCM (storage/remoteshares.py) -------------------------------

REMOTE_PERMISSIONS = ("read", "write", "share")     # OCM webdav permissions


@dataclass(frozen=True, slots=True)
class RemoteShare:
    """A share another OCM server sent to one of our users: a registry entry pointing at the
    sharer's WebDAV (provider, remote share id, secret, URI), never a copy of the data."""

    id: str                    # ours: `ocm:<uuid>`
    provider: str              # the sender's OCM domain, as listed in the providers file
    provider_id: str           # the sharer's id of the shared resource (OCM `providerId`)
    user_id: str               # the local recipient
    name: str
    description: str
    owner: str                 # federated id of the owner at the provider (`einstein@zurich.test`)
    sender: str                # federated id of the user who shared it
    owner_display_name: str
    sender_display_name: str
    share_type: str            # OCM shareType: user
    resource_type: str         # file | folder
    permissions: tuple[str, ...]   # subset of REMOTE_PERMISSIONS
    uri: str                   # the WebDAV URI at the provider (absolute, or relative to its root)
    secret: str                # the shared secret the provider checks (a credential)
    expiration: float | None   # unix seconds; None = never
    state: str                 # one of SHARE_STATES
    ctime: float

    def expired(self, now: float | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (now or time.time())


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """A WebDAV URL of another server one of our users registered (`ocis remote add`): opened by
    their own client with their own token, never by this server (storage/remotelinks.py)."""

    id: str                    # a uuid
    user_id: str               # whose registry it is in
    name: str
    url: str                   # the WebDAV URL, on an origin the providers file lists
    provider: str              # the listed provider's domain
    ctime: float


# --- federated shares we sent over OCM (storage/ocmshares.py) ----------------------------------


@dataclass(frozen=True, slots=True)
class OcmShare:
    """A federated share one of our users made with someone on another OCM server: the node,
    the role, the recipient's federated address and the shared secret our `/dav/ocm/<id>`
    checks. Shares of a trashed node are invisible until restore, like user shares."""

    id: str                    # `<storageid>:<spaceid>:<uuid>` like share ids; the OCM providerId
    node_id: str
    space_id: str              # space uuid of the shared node
    grantee: str               # the recipient's federated address, `marie@paris.test`
    provider: str              # the recipient's OCM domain (listed in the providers file)
    role_id: str               # unified role id (Viewer, Editor, File Editor)
    permissions: int           # OCS bitmask the share grants (never the share bit)
    secret: str                # the shared secret (a credential: `/dav/ocm/<id>`)
    creator_id: str
    ctime: float
    mtime: float
    expiration: float | None   # unix seconds; None = never

    def expired(self, now: float | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (now or time.time())


# --- public links (LINKS; storage/links.py) ------------------------------------------------------

# The link types and what each grants are the domain's (domain/roles.py LINK_BITS).
LINK_TYPES = roles.LINK_TYPES


@dataclass(frozen=True, slots=True)
class Link:
    """A public link of one node. Links of a trashed node are invisible until restore."""

    id: str                    # `<storageid>:<spaceid>:<uuid>`, like share ids (not the token)
    token: str                 # the URL credential: /s/<token>, /dav/public-files/<token>
    node_id: str
    space_id: str              # space uuid of the linked node
    link_type: str             # one of LINK_TYPES
    permissions: int           # OCS bits the link grants
    password_hash: str | None  # identity/passwords.py hash; None = no password
    expiration: float | None   # unix seconds; None = never
    name: str
    quicklink: bool
    creator_id: str
    ctime: float
    mtime: float

    def expired(self, now: float | None = None) -> bool:
        return self.expiration is not None and self.expiration <= (now or time.time())


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of matches (node and its path in the space, ordered by path) and how many
    matched in all."""

    hits: list[tuple[Node, tuple[str, ...]]]
    total: int


@dataclass(slots=True)
class BlobBody:
    """What a remote blob read answers: HTTP status (200 whole, 206 the range, 416 outside),
    the byte count coming, the Content-Range of a 206/416, and the bytes as they arrive.
    `release` must be called once done (it gives the connection back)."""

    status: int
    length: int
    content_range: str | None
    chunks: AsyncIterator[bytes]
    release: Callable[[], None]


class RemoteBlob(Protocol):
    """A blob held by a storage provider in another process (storage/remote/client.py)."""

    size: int

    async def read(self, range_header: str | None = None) -> BlobBody: ...
        # `Range: bytes=...` as the client sent it (None: the whole blob)


# What `Storage.blob` gives: the blob's local path (sendfile) when the provider runs in this
# process, else a RemoteBlob to stream from.
BlobSource = Path | RemoteBlob


class Storage(Protocol):
    storage_id: str

    @property
    def change_stamp(self) -> object: ...   # a new value after any change to what is stored

    # --- spaces -----------------------------------------------------------------------------
    async def create_space(self, *, space_type: str, name: str, owner_id: str, alias: str,
                           space_id: str | None = None, quota_total: int = 0,
                           description: str = "") -> Space: ...
    async def get_space(self, space_id: str) -> Space: ...                 # NotFound
    # Like get_space for access checks: used, etag and mtime may lag behind recent commits.
    async def space_info(self, space_id: str) -> Space: ...                # NotFound
    async def list_spaces(self, *, member_id: str | None = None) -> list[Space]: ...
    async def update_space(self, space_id: str, *, name: str | None = None,
                           description: str | None = None, quota_total: int | None = None,
                           alias: str | None = None, disabled: bool | None = None) -> Space: ...
    async def delete_space(self, space_id: str) -> None: ...               # purge: nodes + blobs
    async def set_member(self, space_id: str, principal_id: str, role: str | None, *,
                         keep_manager: bool = False, expires: float | None = None) -> None: ...
        # keep_manager: BadRequest instead of removing or demoting the space's last manager;
        # expires: unix seconds the membership ends (None = never; each call sets it anew)
    async def members(self, space_id: str) -> dict[str, str]: ...         # principal id -> role
        # (memberships past their expiry are left out)
    async def member_expirations(self, space_id: str) -> dict[str, float]: ...
        # principal id -> expiry of the live members that have one

    # --- tree -------------------------------------------------------------------------------
    async def lookup(self, space_id: str, path: Parts) -> Node: ...        # NotFound
    async def get_node(self, node_id: str) -> Node: ...                    # NotFound
    async def node_path(self, node: Node) -> tuple[str, ...]: ...          # names from the root
    async def children(self, node: Node) -> list[Node]: ...                # sorted by name
    async def children_page(self, node: Node, after: str | None, limit: int) -> list[Node]: ...
        # up to `limit` children sorted by name, after the name `after` (None: from the first);
        # a PROPFIND streams a folder of any size page by page (keyset paging)
    async def count_below(self, node: Node, limit: int) -> int: ...
        # nodes in the subtree below `node`, counted up to `limit + 1` at most
    async def mkdir(self, space_id: str, path: Parts) -> Node: ...
        # AlreadyExists if the name exists; Conflict if the parent is missing or not a folder
    async def upload(self, space_id: str, path: Parts, body: AsyncIterator[bytes], *,
                     length: int | None = None, mtime: float | None = None,
                     if_match: str | None = None, if_none_match_any: bool = False,
                     checksum: tuple[str, str] | None = None) -> UploadResult: ...
        # Streams body to a temp file hashing SHA1/MD5/ADLER32, checks `checksum` (algo, hex) ->
        # ChecksumMismatch, quota -> QuotaExceeded, if_match against the current etag ->
        # PreconditionFailed, fsyncs, renames and commits. Parent missing -> Conflict; target is a
        # folder -> Conflict. The old blob of an overwritten file is kept as a version.
    def blob(self, node: Node) -> BlobSource: ...                    # for GET: NotFound if no blob
        # a Path (local provider: sendfile, no await) or a RemoteBlob (streamed, with Range)
    async def read_small(self, node: Node) -> bytes: ...                    # whole small file; NotFound
    async def delete(self, space_id: str, path: Parts) -> None: ...        # NotFound; root -> PermissionDenied
        # (delete and move also drop the locks at and below the source path, RFC 4918 §7.7)
    async def move(self, space_id: str, path: Parts, dst_space_id: str, dst_path: Parts, *,
                   overwrite: bool) -> UploadResult: ...
        # node id survives; Conflict if dst parent missing; PreconditionFailed if dst exists and
        # not overwrite; a move into its own subtree -> Conflict (RFC 4918 403 on same resource)
    async def copy(self, space_id: str, path: Parts, dst_space_id: str, dst_path: Parts, *,
                   overwrite: bool, depth_infinity: bool = True) -> UploadResult: ...
    async def set_mtime(self, node_id: str, mtime: float) -> Node: ...

    # --- dead properties (PROPPATCH); keys are "{namespace}localname", values serialized XML
    async def get_props(self, node_id: str) -> dict[str, str]: ...
    async def get_props_many(self, node_ids: Sequence[str]) -> dict[str, dict[str, str]]: ...
        # the dead properties of many nodes in one query (a PROPFIND Depth 1 of a big folder);
        # nodes without properties are left out of the result
    async def patch_props(self, node_id: str, set_props: dict[str, str],
                          remove: Sequence[str]) -> Node: ...              # atomic; changes etag

    # --- search (REPORT): from indexes, ordered by path, scoped below `base` -----------------
    async def search_names(self, space_id: str, base: Parts, pattern: str, *,
                           offset: int = 0, limit: int = 100) -> SearchPage: ...
    async def favorites(self, space_id: str, base: Parts, *, user_id: str, offset: int = 0,
                        limit: int | None = None) -> SearchPage: ...   # the user's own

    # --- locks (WebDAV class 2); expired locks are never returned ----------------------------
    async def locks_covering(self, space_id: str, path: Parts) -> list[LockRecord]: ...
        # locks on the path itself, on any ancestor with depth infinity
    async def locks_below(self, space_id: str, path: Parts) -> list[LockRecord]: ...
    async def get_lock(self, token: str) -> LockRecord: ...                # NotFound
    async def put_lock(self, lock: LockRecord) -> None: ...                # insert or refresh
    async def remove_lock(self, token: str) -> None: ...

    # --- trash (a DELETE moves the subtree here; trashed nodes are invisible to the tree, their
    # bytes leave the space's tree size and `used`; blobs go only on purge) ----------------------
    async def list_trash(self, space_id: str) -> list[TrashItem]: ...    # newest first; NotFound
    async def restore_trash(self, space_id: str, key: str, *, dst_path: Parts | None = None,
                            overwrite: bool) -> UploadResult: ...
        # to `dst_path` or the original location; NotFound (key), Conflict (parent missing),
        # PreconditionFailed (exists and not overwrite; with overwrite the existing one is trashed)
    async def trash_item(self, space_id: str, key: str) -> TrashItem: ...   # NotFound
    async def list_trash_folder(self, space_id: str, key: str) -> list[TrashItem]: ...
        # what a trashed folder (or a folder inside one) holds; [] for a file; NotFound
        # restore_trash and purge_trash take such nested keys too
    async def purge_trash(self, space_id: str, key: str) -> None: ...     # NotFound
    async def empty_trash(self, space_id: str) -> int: ...                # items purged

    # --- versions (every overwrite keeps the previous content as a version) ----------------------
    async def list_versions(self, node_id: str) -> list[Version]: ...     # newest first; NotFound
    async def version_blob(self, node_id: str, key: str) -> BlobSource: ...  # NotFound
    async def restore_version(self, node_id: str, key: str) -> Node: ...
        # the current content becomes a new version, the chosen one becomes current (new etag)

    # --- upload sessions (storage/uploads.py) ---------------------------------------------
    async def create_upload(self, space_id: str, path: Parts, *, size: int, user_id: str,
                            mtime: float | None = None, checksum: tuple[str, str] | None = None,
                            if_match: str | None = None, expires_in: float) -> UploadSession: ...
        # validated up front: parent missing / target a folder -> Conflict; if_match ->
        # PreconditionFailed; `size` over quota -> QuotaExceeded
    async def get_upload(self, upload_id: str) -> UploadSession: ...       # NotFound (or expired)
    async def append_upload(self, upload_id: str, offset: int, body: AsyncIterator[bytes], *,
                            length: int | None = None,
                            chunk_checksum: tuple[str, str] | None = None
                            ) -> tuple[UploadSession, UploadResult | None]: ...
        # offset != session offset -> Conflict; past `size` -> BadRequest; chunk checksum
        # mismatch -> ChecksumMismatch (chunk discarded). Durable before returning. When the
        # offset reaches `size` the file is committed like upload() and the session removed.
    async def delete_upload(self, upload_id: str) -> None: ...             # NotFound
    async def list_uploads(self, expired: bool | None = None) -> list[UploadSession]: ...
    async def clean_uploads(self, expired_only: bool = True) -> tuple[int, int]: ...
        # (sessions removed, bytes freed)
    async def create_chunked_upload(self, user_id: str, transfer: str, *, size: int | None = None,
                                    expires_in: float) -> UploadSession: ...   # AlreadyExists
    async def find_chunked_upload(self, user_id: str, transfer: str) -> UploadSession: ...
    async def put_upload_chunk(self, upload_id: str, name: str, body: AsyncIterator[bytes], *,
                               length: int | None = None) -> int: ...
    async def upload_chunks(self, upload_id: str) -> list[tuple[str, int, float]]: ...
        # (name, size, mtime) of the chunks received, in offset order
    async def finish_chunked_upload(self, upload_id: str, space_id: str, path: Parts, *,
                                    size: int | None = None, mtime: float | None = None,
                                    checksum: tuple[str, str] | None = None,
                                    if_match: str | None = None) -> UploadResult: ...

    # --- shares (storage/shares.py); shares of trashed nodes are left out everywhere ---------
    async def create_share(self, *, node_id: str, grantee_type: str, grantee_id: str,
                           role_id: str, permissions: int, creator_id: str,
                           expiration: float | None = None,
                           initial_state: str = "accepted") -> Share: ...
        # NotFound (node); AlreadyExists if the grantee already has a share on the node
    async def get_share(self, share_id: str) -> Share: ...                 # NotFound
    async def list_shares(self, *, node_ids: Sequence[str] | None = None,
                          creator_id: str | None = None,
                          space_id: str | None = None) -> list[Share]: ...
    async def shares_covering(self, node_id: str) -> list[Share]: ...
        # shares on the node and on every ancestor up to its space root
    async def update_share(self, share_id: str, *, role_id: str | None = None,
                           permissions: int | None = None, expiration: float | None = None,
                           clear_expiration: bool = False) -> Share: ...   # NotFound
    async def delete_share(self, share_id: str) -> None: ...               # NotFound
    async def create_remote_share(self, share: RemoteShare) -> RemoteShare: ...
        # AlreadyExists when this provider already sent this providerId to this user
    async def remote_shares(self, user_id: str) -> list[RemoteShare]: ...   # oldest first
    async def get_remote_share(self, share_id: str) -> RemoteShare: ...      # NotFound
    async def set_remote_share_state(self, share_id: str, state: str) -> RemoteShare: ...
    async def set_remote_share_permissions(self, share_id: str,
                                           permissions: tuple[str, ...]) -> RemoteShare: ...
    async def remote_shares_of(self, provider_id: str) -> list[RemoteShare]: ...
        # the entries of every provider and recipient with this providerId
    async def delete_remote_share(self, share_id: str) -> None: ...          # NotFound
    async def accepted_remote_shares(self) -> list[RemoteShare]: ...   # every user's
    async def create_ocm_share(self, *, node_id: str, grantee: str, provider: str,
                               role_id: str, permissions: int, creator_id: str,
                               expiration: float | None = None) -> OcmShare: ...
        # a fresh id and secret; NotFound (node); AlreadyExists if the grantee has one on it
    async def get_ocm_share(self, share_id: str) -> OcmShare: ...           # NotFound
    async def list_ocm_shares(self, *, node_ids: Sequence[str] | None = None,
                              creator_id: str | None = None,
                              space_id: str | None = None) -> list[OcmShare]: ...
    async def update_ocm_share(self, share_id: str, *, role_id: str | None = None,
                               permissions: int | None = None, expiration: float | None = None,
                               clear_expiration: bool = False) -> OcmShare: ...  # NotFound
    async def delete_ocm_share(self, share_id: str) -> None: ...            # NotFound
    async def create_invite_token(self, token: InviteToken) -> InviteToken: ...
    async def invite_token(self, token: str) -> InviteToken: ...             # NotFound
    async def invite_tokens(self, user_id: str) -> list[InviteToken]: ...    # oldest first
    async def add_accepted_user(self, contact: AcceptedUser) -> AcceptedUser: ...
        # AlreadyExists when the user already has this (provider, remote id)
    async def accepted_users(self, user_id: str) -> list[AcceptedUser]: ...  # oldest first
    async def delete_accepted_user(self, user_id: str, provider: str,
                                   remote_id: str) -> None: ...              # NotFound
    async def received_shares(self, user_id: str,
                              group_ids: Sequence[str] = ()) -> list[ReceivedShare]: ...
        # shares with the user or one of the groups, with the user's state; oldest first
    async def set_received(self, share_id: str, user_id: str, *, state: str | None = None,
                           hidden: bool | None = None,
                           mount_point: str | None = None) -> None: ...    # NotFound

    # --- public links (storage/links.py); links of trashed nodes are left out everywhere ------
    async def create_link(self, *, node_id: str, link_type: str, permissions: int,
                          creator_id: str, password_hash: str | None = None,
                          expiration: float | None = None, name: str = "",
                          quicklink: bool = False) -> Link: ...     # NotFound (node); BadRequest
        # the storage draws the token (secrets.token_urlsafe, 16 characters)
    async def get_link(self, link_id: str) -> Link: ...                   # NotFound
    async def link_by_token(self, token: str) -> Link: ...                # NotFound
    async def list_links(self, *, node_ids: Sequence[str] | None = None,
                         creator_id: str | None = None,
                         space_id: str | None = None) -> list[Link]: ...
    async def update_link(self, link_id: str, *, link_type: str | None = None,
                          permissions: int | None = None, password_hash: str | None = None,
                          clear_password: bool = False, expiration: float | None = None,
                          clear_expiration: bool = False, name: str | None = None,
                          quicklink: bool | None = None) -> Link: ...   # NotFound
    async def delete_link(self, link_id: str) -> None: ...                # NotFound

    # --- WebDAV URLs of other servers users registered (storage/remotelinks.py) ---------------
    async def remote_links(self, user_id: str) -> list[RemoteLink]: ...
    async def create_remote_link(self, link: RemoteLink) -> RemoteLink: ...  # AlreadyExists
    async def delete_remote_link(self, user_id: str, link_id: str) -> None: ...  # NotFound

    # --- per-user settings values and URL signing keys (storage/usersettings.py) -------------
    async def setting_values(self, user_id: str) -> dict[str, str]: ...   # setting id -> JSON
    async def save_setting_value(self, user_id: str, setting_id: str, value: str) -> None: ...
    async def favorite_ids(self, user_id: str, node_ids: Sequence[str]) -> frozenset[str]: ...
    async def set_favorite(self, user_id: str, node_id: str, on: bool) -> None: ...
    async def signing_key(self, user_id: str) -> str | None: ...
    async def set_signing_key(self, user_id: str, key: str, *, replace: bool = True) -> str: ...
        # the key in force afterwards (replace=False keeps an existing one)

    # --- placement (storage/router) ---------------------------------------------------------
    async def used_bytes(self) -> int: ...   # bytes the provider's spaces hold (their tree sizes)

    # --- health ---------------------------------------------------------------------------
    async def check(self) -> None: ...                # raises if the database or data dir is unusable
    async def close(self) -> None: ...


def knows_storage(storage: Storage, storage_id: str) -> bool:
    """Whether a resource id's storage part ("" = none given) names `storage` or one of the
    providers a `StorageRouter` routes to (its `mount_ids`)."""
    if storage_id in ("", storage.storage_id):
        return True
    return storage_id in getattr(storage, "mount_ids", ())
