"""`ocis share add|ls|update|rm|accept|decline|hide`: user and group shares over the OCS share API,
and the helpers `ocis link` and `ocis spaces members` share with it (roles, expiry, items)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ocis_cli.client import protocol
from ocis_cli.completion import complete_recipient, complete_remote_path
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import (
    CliError,
    Col,
    Format,
    day,
    err,
    print_json,
    print_result,
    print_table,
)
from ocis_cli.remotepath import PATH_HELP, SpaceResolver, parse_remote
from ocis_cli.runner import open_client, run

from .common import OutputOption, YesOption, run_confirmed

if TYPE_CHECKING:
    from ocis_cli.client import Client, Resource, ShareInfo

PANEL = "Sharing"
share_app = typer.Typer(help="Share files and folders with users and groups.",
                        no_args_is_help=True)

# The unified roles by CLI name (protocol-notes.md §7): item roles for shares, root roles for spaces.
ITEM_ROLES = protocol.ITEM_ROLES
SPACE_ROLES = tuple(r.cli_name for r in protocol.ROLES if r.is_space_role)
# The ones offered by default (the others are accepted too).
COMMON_ROLES = protocol.COMMON_ITEM_ROLES
_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def check_role(role: str, allowed: tuple[str, ...], what: str,
               shown: tuple[str, ...] = ()) -> str:
    """The role in lower case, or a usage error listing the roles that `what` takes."""
    name = role.strip().lower()
    if name not in allowed:
        raise CliError(f"unknown {what} role {role!r}: one of {', '.join(shown or allowed)}",
                       ExitCode.USAGE)
    return name


def parse_expire(text: str, *, now: datetime | None = None) -> str:
    """`7d`, `12h`, `2w`, `YYYY-MM-DD` or an ISO 8601 time -> the `expireDate` sent (RFC 3339 UTC,
    or the date as given); `never` or "" -> "" (no expiry)."""
    raw = text.strip().lower()
    if raw in ("", "never", "none"):
        return ""
    match = _RELATIVE.match(raw)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise CliError(f"an expiry must be in the future: {text!r}", ExitCode.USAGE)
        when = (now or datetime.now(UTC)) + amount * _UNIT[match.group(2)]
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            datetime.strptime(raw, "%Y-%m-%d")
        except ValueError:
            raise CliError(f"not a date: {text!r}", ExitCode.USAGE) from None
        return raw
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"not an expiry: {text!r} (examples: 7d, 12h, 2w, 2030-01-31, never)",
                       ExitCode.USAGE) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def item_of(client: Client, path: str) -> Resource:
    """The file or folder a remote path names (exit 3 when it does not exist)."""
    rp = parse_remote(path)
    drive, rp = await SpaceResolver(client).locate(rp)
    return await client.webdav.stat(drive.id, rp.path)


def share_row(share: ShareInfo, *, received: bool = False) -> list[str]:
    """A row of SHARE_COLUMNS: shares with me name who shared (FROM), mine name the recipient
    (WITH) as the CLI takes it, with the display name in `-o wide`."""
    who = share.owner if received else share.recipient
    state = share.state + (" (hidden)" if share.hidden else "")
    return [share.path, who, share.role, share.kind, day(share.expiration), state,
            share.owner if received else share.recipient_name or "-", share.id]


def complete_role(incomplete: str) -> list[str]:
    return [r for r in COMMON_ROLES if r.startswith(incomplete.lower())]


SHARE_COLUMNS = (Col("PATH", fold=True), Col("WITH", fold=True), Col("ROLE"), Col("TYPE"),
                 Col("EXPIRES"), Col("STATE"), Col("NAME", wide=True), Col("ID", wide=True))
RoleOption = Annotated[str, typer.Option(
    "--role", "-r", help=f"Role: {', '.join(COMMON_ROLES)}.", autocompletion=complete_role)]
ExpireOption = Annotated[str | None, typer.Option(
    "--expire", help="Expiry: 7d, 12h, 2w, 2030-01-31 or an ISO 8601 time.")]
IdArg = Annotated[str, typer.Argument(help="Share id (see `ocis share ls`).")]


def share_add(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="File or folder to share. " + PATH_HELP,
                                        autocompletion=complete_remote_path)],
    recipient: Annotated[str, typer.Argument(
        help="User name, e-mail address, group:NAME for a group (`ocis users ls`, "
        "`ocis groups ls`), or user@domain for a user of another OCM server (a domain "
        "listed in the server's ocmproviders.json).", autocompletion=complete_recipient)],
    role: RoleOption = "viewer",
    expire: ExpireOption = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only the new share's id.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Share a file or folder with a user or a group, here or at another OCM server (federated:
    `user@domain`); says what was shared with whom, and the role (`-q` prints only the share id,
    `-o json` the whole share)."""

    async def body() -> None:
        from ocis_cli.client import NotFound

        role_name = check_role(role, ITEM_ROLES, "share", COMMON_ROLES)
        expire_date = parse_expire(expire) if expire else None
        async with open_client(ctx) as client:
            item = await item_of(client, path)
            try:
                name, group = await client.shares.find_recipient(recipient)
                share = await client.shares.create(item.id, name, group=group, role=role_name,
                                                   expire=expire_date)
            except NotFound as exc:
                if not is_federated(recipient):
                    raise CliError(unknown_recipient(recipient, exc.message),
                                   ExitCode.NOT_FOUND) from None
                share = await share_federated(client, item.id, recipient, role_name,
                                              expire_date)
        if output is Format.json:
            print_json(share.to_json())
        elif quiet:
            print(share.id)
        else:
            err(shared_message(share, path))

    run(body)


def is_federated(recipient: str) -> bool:
    """`user@domain` that is no local user's e-mail address: a user at another OCM server."""
    return not recipient.startswith("group:") and "@" in recipient.strip("@")


async def share_federated(client: Client, item_id: str, address: str, role: str,
                          expire: str | None) -> ShareInfo:
    """A federated share (OCM) with `address`; the server refuses an unlisted domain, naming
    its providers file."""
    from ocis_cli.client import BadRequest, NotFound

    try:
        return await client.shares.create_federated(item_id, address, role=role, expire=expire)
    except BadRequest as exc:
        raise CliError(f"cannot share with {address}: no local user has this e-mail address, "
                       f"and {exc.message}", ExitCode.USAGE) from None
    except NotFound as exc:
        raise CliError(f"cannot share with {address}: {exc.message}",
                       ExitCode.NOT_FOUND) from None


def unknown_recipient(recipient: str, detail: str) -> str:
    if recipient.startswith("group:"):
        return f"{detail}: no group {recipient.removeprefix('group:')!r} here; `ocis groups ls` " \
               "lists the groups"
    return f"{detail}: no user {recipient!r} here; `ocis users ls` lists the users (or search " \
           "with `ocis users ls --search NAME`)"


def shared_message(share: ShareInfo, path: str) -> str:
    """'Shared /Physics with Marie Curie (marie) as viewer until 2030-01-31.'"""
    who = share.recipient_name or share.recipient
    if share.recipient_name and share.recipient_name != share.recipient:
        who = f"{share.recipient_name} ({share.recipient})"
    kind = "the group " if share.kind == "group" else ""
    until = f" until {day(share.expiration)}" if share.expiration else ""
    return f"Shared {path} with {kind}{who} as {share.role}{until}."


def share_ls(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(
        help="Only the shares of this file or folder (shares by me).")] = None,
    by_me: Annotated[bool, typer.Option("--by-me", help="Shares I created (default).")] = False,
    with_me: Annotated[bool, typer.Option("--with-me", help="Shares others made with me.")] = False,
    pending: Annotated[bool, typer.Option(
        "--pending", help="Only shares with me waiting to be accepted (implies --with-me).")] = False,
    output: OutputOption = Format.table,
) -> None:
    """List shares by me (default) or with me.

    JSON: an array of {id, type (user|group|federated), path, item_type, item_id, role, permissions, owner,
    recipient, recipient_display_name, state (accepted|pending|declined), hidden, expiration}.
    """

    async def body() -> None:
        if by_me and (with_me or pending):
            raise CliError("--by-me cannot be combined with --with-me or --pending", ExitCode.USAGE)
        if path and (with_me or pending):
            raise CliError("a PATH lists shares by me only", ExitCode.USAGE)
        async with open_client(ctx) as client:
            if with_me or pending:
                found = await client.shares.received(state="pending" if pending else "all")
            else:
                item_id = (await item_of(client, path)).id if path else None
                found = [s for s in await client.shares.list_mine(item_id=item_id,
                                                                  types=(0, 1, 6))
                         if s.share_type in (0, 1, 6)]
        if output is Format.json:
            print_json([s.to_json() for s in found])
            return
        received = with_me or pending
        # Shares by me are accepted or pending at the recipient's: STATE matters for mine in wide.
        columns = [Col("FROM", fold=True) if received and c.header == "WITH"
                   else Col("STATE", wide=True) if not received and c.header == "STATE"
                   else c for c in SHARE_COLUMNS]
        print_table(columns, [share_row(s, received=received) for s in found], output=output)

    run(body)


def share_update(
    ctx: typer.Context,
    share_id: IdArg,
    role: Annotated[str | None, typer.Option(
        "--role", "-r", help=f"New role: {', '.join(COMMON_ROLES)}.",
        autocompletion=complete_role)] = None,
    expire: Annotated[str | None, typer.Option(
        "--expire", help="New expiry (7d, 2030-01-31, ...), or `never` to remove it.")] = None,
    output: OutputOption = Format.table,
) -> None:
    """Change the role or the expiry of a share you made."""

    async def body() -> None:
        if role is None and expire is None:
            raise CliError("nothing to change: give --role and/or --expire", ExitCode.USAGE)
        role_name = check_role(role, ITEM_ROLES, "share", COMMON_ROLES) if role else None
        expire_date = parse_expire(expire) if expire is not None else None
        async with open_client(ctx) as client:
            share = await client.shares.update(share_id, role=role_name, expire=expire_date)
        print_result(output, share.to_json(),
                     f"share {share.id}: {share.role}, expires {share.expiration or 'never'}")

    run(body)


def share_rm(ctx: typer.Context, share_id: IdArg, yes: YesOption = False,
             output: OutputOption = Format.table) -> None:
    """Remove a share you made (the recipient loses access)."""

    async def delete(client: Client, share: ShareInfo) -> tuple[Any, str]:
        await client.shares.delete(share.id)
        return ({"deleted": share.to_json()},
                f"{share.path} is no longer shared with {share.recipient}")

    run_confirmed(ctx, yes, output, find=lambda client: client.shares.get(share_id),
                  question=lambda share: f"Stop sharing {share.path} with {share.recipient}?",
                  act=delete, declined="nothing removed")


def _received_verb(ctx: typer.Context, share_id: str, output: Format, verb: str,
                   hidden: bool = True) -> None:
    async def body() -> None:
        async with open_client(ctx) as client:
            if verb == "accept":
                share = await client.shares.accept(share_id)
            elif verb == "decline":
                share = await client.shares.decline(share_id)
            else:
                share = await client.shares.set_hidden(share_id, hidden)
        what = ("hidden" if share.hidden else "shown") if verb == "hide" else share.state
        print_result(output, share.to_json(), f"{share.path}: {what}")

    run(body)


def share_accept(ctx: typer.Context, share_id: IdArg, output: OutputOption = Format.table) -> None:
    """Accept a share made with you: it appears under /Shares."""
    _received_verb(ctx, share_id, output, "accept")


def share_decline(ctx: typer.Context, share_id: IdArg, output: OutputOption = Format.table) -> None:
    """Decline a share made with you (accept it again later if you change your mind)."""
    _received_verb(ctx, share_id, output, "decline")


def share_hide(
    ctx: typer.Context,
    share_id: IdArg,
    undo: Annotated[bool, typer.Option("--undo", help="Show the share again.")] = False,
    output: OutputOption = Format.table,
) -> None:
    """Hide a share made with you from the listings (without declining it)."""
    _received_verb(ctx, share_id, output, "hide", hidden=not undo)


def register(app: typer.Typer) -> None:
    cmd = share_app.command
    cmd("add", epilog=(
        "Examples (the users of a server started with demo users):\n\n"
        "  ocis share add /Physics/results.pdf marie --role viewer\n"
        "  ocis share add Physics:/data richard@example.org --role editor --expire 7d\n"
        "  ocis share add /docs katherine -q\n"
        "  ocis groups add physics && ocis groups add-member physics marie\n"
        "  ocis share add /docs group:physics --role viewer -o json\n"
        "  ocis share add /Physics marie@paris.test --role editor"))(share_add)
    cmd("ls", epilog=(
        "Examples:\n\n  ocis share ls\n  ocis share ls /docs\n  ocis share ls --with-me\n"
        "  ocis share ls --pending -o json"))(share_ls)
    cmd("update", epilog=(
        "Examples:\n\n  ocis share update <id> --role editor\n"
        "  ocis share update <id> --expire never"))(share_update)
    cmd("rm", epilog="Examples:\n\n  ocis share rm <id>\n  ocis share rm <id> -y")(share_rm)
    cmd("accept", epilog="Examples:\n\n  ocis share accept <id>")(share_accept)
    cmd("decline", epilog="Examples:\n\n  ocis share decline <id>")(share_decline)
    cmd("hide", epilog="Examples:\n\n  ocis share hide <id>\n  ocis share hide <id> --undo")(
        share_hide)
    app.add_typer(share_app, name="share", rich_help_panel=PANEL)
