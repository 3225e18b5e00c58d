"""Runtime verbs kept from oCIS: `ocis init`, `ocis server`, `ocis list`, `ocis health`, and
`ocis <service> server` for each service of the runtime's service table."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ocis_cli.commands.common import OutputOption
from ocis_cli.exitcodes import ExitCode
from ocis_cli.output import CliError, Col, Format, is_tty, print_error, print_json, print_table
from ocis_cli.runner import run

PANEL = "Runtime (server side)"
_TRUE = ("true", "yes", "y", "1", "on")
_FALSE = ("false", "no", "n", "0", "off")


def init(
    insecure: Annotated[str | None, typer.Option(
        "--insecure", envvar="OCIS_INSECURE", metavar="true|false",
        help="Disable certificate checks between services and towards the IdP (self-signed "
             "setups). Asked interactively when not given.")] = None,
    admin_password: Annotated[str | None, typer.Option(
        "--admin-password", "--ap", envvar=["ADMIN_PASSWORD", "IDM_ADMIN_PASSWORD"],
        help="Password of the admin user; generated randomly when not given.")] = None,
    force_overwrite: Annotated[bool, typer.Option(
        "--force-overwrite", "-f", envvar="OCIS_FORCE_CONFIG_OVERWRITE",
        help="Replace an existing config; the old file is kept as a timestamped backup.")] = False,
    config_path: Annotated[Path | None, typer.Option(
        "--config-path", envvar="OCIS_CONFIG_DIR",
        help="Directory for ocis.toml (default ~/.ocis/config).")] = None,
) -> None:
    """Write a new server config (ocis.toml, mode 0600) with generated secrets.

    Refuses to overwrite an existing config unless --force-overwrite is given. Prints the admin
    password once.
    """
    from ocis_server.config import ConfigError, run_init

    flag = _parse_insecure(insecure)
    try:
        result = run_init(insecure=flag, admin_password=admin_password,
                          force_overwrite=force_overwrite, config_dir=config_path)
    except ConfigError as exc:
        print_error(exc.message)
        raise typer.Exit(int(ExitCode.FAILURE)) from None
    print("=========================================")
    print(" generated OCIS Config")
    print("=========================================")
    print(f" configpath : {result.path}")
    print(" user       : admin")
    print(f" password   : {result.admin_password}")
    if result.backup is not None:
        print(f" backup     : {result.backup}")


def _parse_insecure(value: str | None) -> bool:
    if value is None:
        if not is_tty(sys.stdin):
            print_error("--insecure true|false is required when not interactive")
            raise typer.Exit(int(ExitCode.USAGE))
        return typer.confirm("Do you want to configure Infinite Scale with certificate checking "
                             "disabled?", default=False)
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise typer.BadParameter(f"expected true or false, got {value!r}", param_hint="--insecure")


def _serve(only: list[str] | None) -> None:
    from ocis_cli.launch import serve

    raise typer.Exit(serve(only))


def server() -> None:
    """Start the runtime and every default service, supervised (Ctrl-C or SIGTERM stops it)."""
    _serve(None)


def _runtime_address() -> tuple[str, int]:
    """The control API address: OCIS_RUNTIME_HOST/PORT or the server config; without a port set,
    what the running instance of OCIS_CONFIG_DIR recorded, else the port derived from
    PROXY_HTTP_ADDR (127.0.0.1:9250 for the default 9200)."""
    from ocis_server.config import ConfigError, load_config
    from ocis_server.config.ports import runtime_address

    try:
        host, port, _ = runtime_address(load_config())
        return host, port
    except ConfigError:
        host = os.environ.get("OCIS_RUNTIME_HOST", "127.0.0.1")
        text = os.environ.get("OCIS_RUNTIME_PORT", "9250")
        if not text.isdigit():
            raise CliError(f"OCIS_RUNTIME_PORT must be a number, got {text!r}",
                           ExitCode.USAGE) from None
        return host, int(text)


def _unreachable(host: str, port: int) -> CliError:
    return CliError(f"runtime not reachable at {host}:{port} (is `ocis server` running?)",
                    ExitCode.TEMPORARY)


def _which(instance: object, host: str, port: int) -> str:
    """"ocis at <url> (config <dir>, runtime <host:port>)": the instance `ocis health`/`list` reached."""
    if not isinstance(instance, dict):
        return f"runtime at {host}:{port}"
    return (f"ocis at {instance.get('url') or '?'} (config {instance.get('config_dir') or '?'}, "
            f"runtime {host}:{port})")


def list_services(
    output: OutputOption = Format.table,
) -> None:
    """List the services of the running runtime: name, state, start group, restarts, since
    (`-o json` also node and address). With MICRO_REGISTRY=nats-js-kv also every other node's
    service instances, as long as they renew their registration; the table then shows the
    node and address of each."""

    async def body() -> None:
        from ocis_cli.client import NetworkError, RuntimeClient

        host, port = _runtime_address()
        try:
            async with RuntimeClient(host, port) as rt:
                services = await rt.services()
                instance = await rt.instance()
        except NetworkError:
            raise _unreachable(host, port) from None
        if instance is not None:      # on stderr: stdout stays the table (or JSON) scripts read
            print(_which(instance, host, port), file=sys.stderr)
        if output is Format.json:
            print_json([{"name": s.name, "state": s.state, "group": s.group,
                         "restarts": s.restarts, "since": s.since}
                        | ({"node": s.node, "address": s.address} if s.node else {})
                        for s in services])
            return
        if len({s.node for s in services}) > 1:       # several nodes: say which runs what
            print_table([Col("NAME"), Col("STATE"), Col("NODE"), Col("ADDRESS"), Col("GROUP"),
                         Col("RESTARTS"), Col("SINCE")],
                        [[s.name, s.state, s.node, s.address, "" if s.group is None else s.group,
                          s.restarts, s.since] for s in services], output=output)
            return
        print_table([Col("NAME"), Col("STATE"), Col("GROUP"), Col("RESTARTS"), Col("SINCE")],
                    [[s.name, s.state, s.group, s.restarts, s.since] for s in services],
                    output=output)

    run(body)


def health(
    output: OutputOption = Format.table,
) -> None:
    """Exit 0 when the runtime and all its services are healthy; 7 when it is degraded (it
    serves, but a service waits for its disk, LDAP server or database and answers 503 with
    Retry-After until that is back, by itself); 1 when a service failed or is not running; 5
    when the runtime is unreachable. With MICRO_REGISTRY=nats-js-kv the services of the other
    nodes count too (as `<service>@<node>`): 1 also when one stopped renewing its registration
    (killed, cut off) and no newer instance of it registered since."""

    async def body() -> ExitCode:
        from ocis_cli.client import NetworkError, RuntimeClient

        host, port = _runtime_address()
        try:
            async with RuntimeClient(host, port) as rt:
                result = await rt.health()
        except NetworkError:
            raise _unreachable(host, port) from None
        word = "healthy" if result.healthy else "degraded" if result.degraded else "unhealthy"
        instance = result.detail.get("instance") if isinstance(result.detail, dict) else None
        if output is Format.json:
            print_json({"healthy": result.healthy, "status": word, "runtime": f"{host}:{port}",
                        "instance": instance, "detail": result.detail})
        else:
            print(f"{word}: {_which(instance, host, port)}")
            if not result.healthy:
                _explain_unhealthy(result.detail)
        if result.healthy:
            return ExitCode.OK
        return ExitCode.PARTIAL if result.degraded else ExitCode.FAILURE

    run(body)


def _explain_unhealthy(detail: object) -> None:
    """Per-service states on stderr when the runtime says it is unhealthy."""
    services = detail.get("services") if isinstance(detail, dict) else None
    if isinstance(services, dict):
        print_table([Col("SERVICE"), Col("HEALTH", fold=True)], sorted(services.items()),
                    stream=sys.stderr)
    elif detail is not None:
        print(detail if isinstance(detail, str) else json.dumps(detail, indent=2), file=sys.stderr)


def _service_names() -> list[tuple[str, str]]:
    """(name, description) of every service in the runtime's table (a data module, cheap to import)."""
    from ocis_server.services import SERVICES

    return [(spec.name, spec.description) for spec in SERVICES]


# The `ocis <service>` groups by service name, so a command module that manages what a service
# holds (`ocis users add`) adds its verbs to the same group instead of hiding `server`.
SERVICE_APPS: dict[str, typer.Typer] = {}


def _service_app(name: str, description: str) -> typer.Typer:
    sub = typer.Typer(help=f"The {name} service: {description}.", no_args_is_help=True)
    SERVICE_APPS[name] = sub

    def serve_one() -> None:
        _serve([name])

    serve_one.__doc__ = (f"Run only the {name} service, unsupervised by a full runtime (for "
                         f"running it on another node).")
    sub.command("server", epilog=f"Example:\n\n  ocis {name} server")(serve_one)
    return sub


def register(app: typer.Typer) -> None:
    app.command("init", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis init --insecure true --admin-password admin\n"
        "  OCIS_CONFIG_DIR=/etc/ocis ocis init --insecure false -f"))(init)
    app.command("server", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis server\n"
        "  PROXY_HTTP_ADDR=0.0.0.0:9200 PROXY_ENABLE_BASIC_AUTH=true ocis server"))(server)
    app.command("list", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis list\n  ocis list -o json"))(list_services)
    app.command("health", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis health && echo up\n  OCIS_RUNTIME_PORT=9251 ocis health -o json"))(health)
    for name, description in _service_names():
        app.add_typer(_service_app(name, description), name=name, rich_help_panel="Services")
