"""`ocis version`, `ocis completion SHELL` and `ocis help TOPIC` (exit codes, environment, paths)."""

from __future__ import annotations

import platform
from enum import StrEnum
from typing import Annotated

import typer

from ocis_cli.exitcodes import MEANINGS
from ocis_cli.remotepath import PATH_HELP

PANEL = "Help and setup"
help_app = typer.Typer(help="Topic pages: exit codes, environment variables, remote paths.",
                       invoke_without_command=True)


@help_app.callback()
def help_topics(ctx: typer.Context) -> None:
    """Topic pages: exit codes, environment variables, remote paths (`ocis help` lists them)."""
    if ctx.invoked_subcommand is not None:
        return
    group = ctx.command
    print("Help topics (`ocis help TOPIC`; every command also answers --help):")
    for name in group.list_commands(ctx):           # type: ignore[attr-defined]
        command = group.get_command(ctx, name)      # type: ignore[attr-defined]
        print(f"  {name:13}{command.get_short_help_str(limit=70)}")

# Environment variables the client and the runtime verbs read (also in every man page).
ENVIRONMENT: dict[str, str] = {
    "OCIS_CONTEXT": "context to use instead of the current one (same as --context)",
    "OCIS_PASSWORD": "password for `ocis login --password-from-env` (OC_PASS is accepted too)",
    "OCIS_USER": "user name for `ocis login --user`",
    "XDG_CONFIG_HOME": "base of the client config; contexts live in $XDG_CONFIG_HOME/ocis/config.toml",
    "OCIS_CONFIG_DIR": "server config directory (ocis.toml) for init and server",
    "OCIS_BASE_DATA_PATH": "server data directory",
    "OCIS_RUNTIME_HOST": "host of the runtime control API for list and health (127.0.0.1)",
    "OCIS_RUNTIME_PORT": "port of the runtime control API for list and health (9250)",
    "NO_COLOR": "disable colour in tables",
    "OCIS_COMPLETION_CACHE_SECONDS": "how long tab completion reuses what the server answered (5)",
}


def version() -> None:
    """Show which implementation of ocis this is, and its version."""
    from ocis_cli import IMPLEMENTATION
    from ocis_cli import version as package_version

    print(f"ocis {package_version()}")
    print(f"implementation: {IMPLEMENTATION}")
    print(f"python: {platform.python_version()}")


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    """The script `_OCIS_COMPLETE=source_<shell> ocis` prints (typer's dynamic completion)."""
    from typer._click import shell_completion
    from typer._completion_classes import completion_init

    from ocis_cli.main import app

    if shell == "bash":
        return BASH_SCRIPT
    completion_init()                   # registers typer's completion classes with its click
    cls = shell_completion.get_completion_class(shell)
    if cls is None:
        raise ValueError(f"unsupported shell: {shell}")
    cli = typer.main.get_command(app)
    return str(cls(cli, {}, "ocis", "_OCIS_COMPLETE").source()) + "\n"


# typer's bash script hands bash's words to the program, but bash splits `Physics:/data` at the
# colon (COMP_WORDBREAKS), so the words are rebuilt from the line itself, and the part before the
# last colon is taken off the candidates again (what bash-completion's __ltrim_colon_completions
# does for kubectl and rclone). Names with spaces are quoted; no space after a folder, so the next
# TAB goes into it.
BASH_SCRIPT = r'''
_ocis_completion() {
    local line="${COMP_LINE:0:$COMP_POINT}" IFS=$' \t\n'
    local -a words
    read -a words <<< "$line"            # no -r: `Lab\ No` stays one word, as the shell reads it
    local cword=$(( ${#words[@]} - 1 ))
    [[ "$line" =~ [[:space:]]$ ]] && cword=$(( cword + 1 ))
    local cur="${words[cword]}"
    IFS=$'\n'
    COMPREPLY=( $( env COMP_WORDS="$line" COMP_CWORD=$cword _OCIS_COMPLETE=complete_bash "$1" ) )
    local prefix="" i
    [[ "$cur" == *:* && "$COMP_WORDBREAKS" == *:* ]] && prefix="${cur%"${cur##*:}"}"
    for i in "${!COMPREPLY[@]}"; do
        COMPREPLY[i]="${COMPREPLY[i]#"$prefix"}"
        # a name with a space or a shell character is inserted quoted (`Lab\ Notes:/`)
        [[ "${COMPREPLY[i]}" == *[[:space:]\'\"\$\\\&\;\(\)]* ]] && printf -v 'COMPREPLY[i]' '%q' "${COMPREPLY[i]}"
    done
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F _ocis_completion ocis
complete -o default -F _ocis_completion ocis-py
'''.lstrip("\n")


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish")]) -> None:
    """Print the shell completion script for SHELL."""
    print(completion_script(shell.value), end="")


def topic_exit_codes() -> None:
    """The exit codes of every ocis command."""
    for code, meaning in MEANINGS.items():
        print(f"{int(code):>4}  {meaning}")


def topic_environment() -> None:
    """The environment variables ocis reads."""
    for name, meaning in ENVIRONMENT.items():
        print(f"{name:20} {meaning}")


def topic_paths() -> None:
    """How remote paths are written."""
    print(PATH_HELP)
    print("Examples: /docs/a.txt   Physics:/data/run1.csv   'storageid$spaceid':/a.txt")


def register(app: typer.Typer) -> None:
    app.command("version", rich_help_panel=PANEL, epilog="Example:\n\n  ocis version")(version)
    app.command("completion", rich_help_panel=PANEL, epilog=(
        "Examples:\n\n  ocis completion bash > ~/.local/share/bash-completion/completions/ocis\n"
        "  ocis completion zsh > \"${fpath[1]}/_ocis\"\n"
        "  ocis completion fish > ~/.config/fish/completions/ocis.fish"))(completion)
    help_app.command("exit-codes", epilog="Example:\n\n  ocis help exit-codes")(topic_exit_codes)
    help_app.command("environment", epilog="Example:\n\n  ocis help environment")(topic_environment)
    help_app.command("paths", epilog="Example:\n\n  ocis help paths")(topic_paths)
    app.add_typer(help_app, name="help", rich_help_panel=PANEL)
