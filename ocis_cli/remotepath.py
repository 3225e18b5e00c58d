"""The remote path syntax of `ocis`: `/docs/a.txt` is in the personal space, `SPACE:/path` in the
space named SPACE (or with id SPACE), and a share made with you is a space too: `NAME:/path` or
`/Shares/NAME/path`, `/Shares` lists them. Resolving a name needs `/me/drives`, fetched once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError

if TYPE_CHECKING:
    from ocis_cli.client import Client, Drive

PATH_HELP = (
    "Remote paths: /docs/a.txt is in your personal space; SPACE:/path is in the space SPACE, "
    "given by name or by id (see `ocis spaces ls`). A share made with you is a space named like "
    "the shared item: NAME:/path, or /Shares/NAME/path; /Shares lists them."
)
SHARES = "Shares"              # the share jail, as ownCloud clients name it in the personal tree


@dataclass(frozen=True, slots=True)
class RemotePath:
    space: str | None      # None: the personal space
    path: str              # always starts with '/', no trailing '/' except the root

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0] or "/"

    def child(self, name: str) -> RemotePath:
        return RemotePath(self.space, self.path.rstrip("/") + "/" + name)

    def __str__(self) -> str:
        return f"{self.space}:{self.path}" if self.space is not None else self.path


def parse_remote(text: str) -> RemotePath:
    """Parse `SPACE:/path` or `/path` (a leading '/' is optional for personal paths)."""
    if not text:
        raise CliError("empty remote path", ExitCode.USAGE)
    space: str | None = None
    rest = text
    head, sep, tail = text.partition(":")
    if sep and head and tail.startswith("/") and "/" not in head:
        space, rest = head, tail
    segments = [s for s in rest.split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise CliError(f"'.' and '..' are not allowed in remote paths: {text}", ExitCode.USAGE)
    return RemotePath(space, "/" + "/".join(segments))


def wants_folder(text: str) -> bool:
    """True when the user wrote a trailing slash: put the file *inside*."""
    return text.endswith("/")


class SpaceResolver:
    """Finds drives by name or id through one `/me/drives` call per command."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._drives: list[Drive] | None = None

    async def drives(self) -> list[Drive]:
        """The spaces, the share jail and one `mountpoint` drive per accepted share."""
        if self._drives is None:
            self._drives = await self.client.graph.my_drives(shares=True)
        return self._drives

    async def locate(self, rp: RemotePath) -> tuple[Drive, RemotePath]:
        """The drive `rp` is in, and the path inside it. `/Shares` is the share jail (the accepted
        shares as its entries), `/Shares/NAME/rest` is `rest` in the share NAME."""
        from ocis_cli.client import NotFound

        head, _, rest = rp.path.strip("/").partition("/")
        if rp.space is not None or head != SHARES:
            return await self.resolve(rp.space), rp
        drives = await self.drives()
        if not rest:
            jail = [d for d in drives if d.drive_type == "virtual"]
            if not jail:
                raise NotFound("this server lists no shares (no share jail)", status=404)
            return jail[0], RemotePath(SHARES, "/")
        name, _, inner = rest.partition("/")
        shares = [d for d in drives if d.is_share]
        return pick_drive(shares, name, what="share"), RemotePath(name, "/" + inner)

    async def resolve(self, space: str | None) -> Drive:
        from ocis_cli.client import NotFound

        drives = await self.drives()
        if space is None:
            personal = [d for d in drives if d.drive_type == "personal"]
            if not personal:
                raise NotFound("you have no personal space on this server", status=404)
            if len(personal) > 1:
                me = await self.client.graph.me()
                mine = [d for d in personal if d.owner_id == me.get("id")]
                personal = mine or personal
            return personal[0]
        return pick_drive(drives, space)


def pick_drive(drives: list[Drive], space: str, *, what: str = "space") -> Drive:
    """A drive by exact id, else exact name, else case-insensitive name; a space wins over a
    share of the same name (`/Shares/NAME` reaches the share); ambiguity is an error."""
    from ocis_cli.client import NotFound

    by_id = [d for d in drives if d.id == space]
    if by_id:
        return by_id[0]
    spaces = [d for d in drives if not d.is_share]
    shares = [d for d in drives if d.is_share]
    for matches in ([d for d in spaces if d.name == space], [d for d in shares if d.name == space],
                    [d for d in spaces if d.name.lower() == space.lower()],
                    [d for d in shares if d.name.lower() == space.lower()]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = "\n  ".join(f"{d.id}  ({d.drive_type})" for d in matches)
            raise CliError(f"space name {space!r} is ambiguous; use one of these ids:\n  {ids}",
                           ExitCode.USAGE)
    raise NotFound(f"no {what} named {space!r} (see `ocis spaces ls`)", status=404)
