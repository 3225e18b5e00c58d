"""Generates man pages (man/ocis*.1, one per command) and shell completions (completions/) from the
typer app itself, and docs/configuration.md from the server's config schema. Run
`python -m ocis_cli.docsgen [--man-dir D] [--completions-dir D] [--config-doc F]`;
tests/test_cli_docs.py and tests/test_config_show.py regenerate and fail when the checked-in files
are stale.
"""

from __future__ import annotations

import argparse
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

REPO = Path(__file__).resolve().parent.parent
SHELLS = ("bash", "zsh", "fish")
_MARKUP = re.compile(r"\[/?[a-z ]+\]")           # rich markup such as [bold] in help texts


def command_tree() -> Iterator[tuple[list[str], Any, Any]]:
    """(words, click command, click context) for `ocis` and every group and command below it."""
    from typer._click import Context

    from ocis_cli.main import app

    root = typer.main.get_command(app)

    def walk(words: list[str], cmd: Any, parent: Any) -> Iterator[tuple[list[str], Any, Any]]:
        ctx = Context(cmd, info_name=words[-1], parent=parent)
        yield words, cmd, ctx
        for name in sorted(getattr(cmd, "commands", {}) or {}):
            sub = cmd.commands[name]
            if not getattr(sub, "hidden", False):
                yield from walk([*words, name], sub, ctx)

    yield from walk(["ocis"], root, None)


def page_name(words: list[str]) -> str:
    return "-".join(words)


def _esc(text: str) -> str:
    """Escape text for roff: backslashes, hyphens, and a leading dot or quote."""
    text = _MARKUP.sub("", text).replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in (text or "").split("\n\n") if p.strip()]


def _option_lines(param: Any) -> list[str]:
    names = ", ".join([*param.opts, *param.secondary_opts])
    is_flag = getattr(param, "is_flag", False)
    metavar = "" if is_flag else f" {param.metavar or param.name.upper()}"
    if param.param_type_name == "argument":
        head = f".TP\n\\fB{_esc(param.display_name_raw.upper())}\\fR"
    else:
        head = f".TP\n\\fB{_esc(names)}\\fR{_esc(metavar)}"
    help_text = getattr(param, "help", None) or ""
    extra = []
    envvar = param.envvar
    if envvar:
        extra.append("env: " + ", ".join([envvar] if isinstance(envvar, str) else envvar))
    default = param.default
    if default not in (None, False, (), "") and not callable(default):
        extra.append(f"default: {getattr(default, 'value', default)}")
    if param.required:
        extra.append("required")
    body = help_text + (f" [{'; '.join(extra)}]" if extra else "")
    return [head, _esc(body) if body else ""]


def _examples(epilog: str) -> list[str]:
    """EXAMPLES from an epilog: indented lines verbatim, other paragraphs as text."""
    out = [".SH EXAMPLES"]
    for para in (p.strip("\n") for p in epilog.split("\n\n") if p.strip()):
        if re.fullmatch(r"Examples?:", para.strip()):
            continue
        if para.startswith("ocis ") or all(line.startswith("  ") for line in para.splitlines()):
            out += [".nf", ".RS 4", _esc(textwrap.dedent(para)), ".RE", ".fi"]
        else:
            out += [".PP", _esc(para)]
    return out


def _env_vars(cmd: Any) -> list[tuple[str, str]]:
    from ocis_cli.commands.meta import ENVIRONMENT

    found: dict[str, str] = {}
    for param in cmd.params:
        names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
        for name in names:
            found.setdefault(name, (getattr(param, "help", "") or "").rstrip("."))
    for name, meaning in ENVIRONMENT.items():
        found.setdefault(name, meaning)
    return list(found.items())


def render(words: list[str], cmd: Any, ctx: Any) -> str:
    """One roff man page."""
    from ocis_cli.exitcodes import MEANINGS

    title = page_name(words)
    paragraphs = _paragraphs(cmd.help or "")
    summary = paragraphs[0].replace("\n", " ") if paragraphs else title
    out = [f'.TH "{title.upper()}" "1" "" "ocis-py" "ocis manual"',
           ".SH NAME", f"{_esc(title)} \\- {_esc(summary)}",
           ".SH SYNOPSIS",
           f"\\fB{_esc(' '.join(words))}\\fR {_esc(' '.join(cmd.collect_usage_pieces(ctx)))}",
           ".SH DESCRIPTION"]
    for para in paragraphs or [summary]:
        out += [_esc(para), ".PP"]
    out.pop()
    subcommands = sorted(getattr(cmd, "commands", {}) or {})
    if subcommands:
        out.append(".SH COMMANDS")
        for name in subcommands:
            short = cmd.commands[name].get_short_help_str(limit=200)
            see = f" See \\fB{_esc(title)}\\-{_esc(name)}\\fR(1)."
            out += [f".TP\n\\fB{_esc(name)}\\fR", _esc(short) + see]
    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    options = [p for p in cmd.params if p.param_type_name != "argument"]
    if arguments:
        out.append(".SH ARGUMENTS")
        for param in arguments:
            out += _option_lines(param)
    out.append(".SH OPTIONS")
    help_option = cmd.get_help_option(ctx)
    for param in [*options, *([help_option] if help_option is not None else [])]:
        out += _option_lines(param)
    if len(words) > 1:
        out.append(".SH GLOBAL OPTIONS")
        for param in ctx.find_root().command.params:
            if param.name == "context":
                out += _option_lines(param)
    if cmd.epilog:
        out += _examples(cmd.epilog)
    out.append(".SH ENVIRONMENT")
    for name, meaning in _env_vars(cmd):
        out += [f".TP\n\\fB{_esc(name)}\\fR", _esc(meaning)]
    out += [".SH FILES", ".TP\n\\fI$XDG_CONFIG_HOME/ocis/config.toml\\fR",
            "client contexts, including passwords in plain text (mode 0600)",
            ".TP\n\\fI$OCIS_CONFIG_DIR/ocis.toml\\fR", "server configuration written by ocis init"]
    out.append(".SH EXIT STATUS")
    for code, meaning in MEANINGS.items():
        out += [f".TP\n\\fB{int(code)}\\fR", _esc(meaning)]
    out.append(".SH SEE ALSO")
    related = ([page_name(words[:-1])] if len(words) > 1 else []) + \
        [f"{title}-{name}" for name in subcommands]
    if len(words) > 2:
        related.append("ocis")
    out.append(", ".join(f"\\fB{_esc(r)}\\fR(1)" for r in related) or "\\fBocis\\-help\\fR(1)")
    return "\n".join(line for line in out if line != "") + "\n"


def generate(man_dir: Path, completions_dir: Path) -> list[Path]:
    """Write every man page and completion script, and remove the pages of commands that no
    longer exist; return the paths written."""
    from ocis_cli.commands.meta import completion_script

    man_dir.mkdir(parents=True, exist_ok=True)
    completions_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for words, cmd, ctx in command_tree():
        path = man_dir / f"{page_name(words)}.1"
        path.write_text(render(words, cmd, ctx), encoding="utf-8")
        written.append(path)
    for shell in SHELLS:
        path = completions_dir / f"ocis.{shell}"
        path.write_text(completion_script(shell), encoding="utf-8")
        written.append(path)
    for stale in set(man_dir.glob("ocis*.1")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ocis_cli.docsgen", description=__doc__)
    parser.add_argument("--man-dir", type=Path, default=REPO / "man")
    parser.add_argument("--completions-dir", type=Path, default=REPO / "completions")
    parser.add_argument("--config-doc", type=Path, default=REPO / "docs" / "configuration.md")
    args = parser.parse_args(argv)
    written = generate(args.man_dir, args.completions_dir)
    print(f"wrote {len(written)} files to {args.man_dir} and {args.completions_dir}")
    from ocis_server.config.show import markdown

    args.config_doc.parent.mkdir(parents=True, exist_ok=True)
    args.config_doc.write_text(markdown(), encoding="utf-8")
    print(f"wrote {args.config_doc}")


if __name__ == "__main__":
    main()
