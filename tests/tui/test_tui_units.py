"""The TUI's pure parts: settings from `[tui]`, key remapping, CLI equivalents, transfer speed/ETA."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocis_tui.bindings import KEYS, display, effective_keys
from ocis_tui.cli import command
from ocis_tui.dialogs.prompt import name_problem
from ocis_tui.dialogs.text import help_text
from ocis_tui.settings import SettingsError, load_settings, settings_from_table
from ocis_tui.transfers import State, Transfers, human_eta


def test_settings_come_from_the_tui_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('current-context = "x"\n[tui]\ntheme = "nord"\n'
                    '[tui.keys]\ndelete = ["x", "delete"]\nquit = "Q"\n')
    settings = load_settings(path, readonly=True, environ={})
    assert settings.theme == "nord" and settings.readonly and not settings.no_color
    assert settings.keys == {"delete": "x,delete", "quit": "Q"}
    assert load_settings(tmp_path / "missing.toml", environ={}).theme == "textual-dark"


@pytest.mark.parametrize("table, message", [
    ({"keys": {"explode": "x"}}, "not a binding id"),
    ({"keys": {"quit": 3}}, "must be a key"),
    ({"theme": ""}, "theme"),
    ({"keys": "q"}, "table"),
])
def test_bad_settings_are_refused_with_the_reason(table: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings_from_table(table)


def test_remapped_keys_reach_help_and_bindings() -> None:
    delete = next(k for k in KEYS if k.id == "delete")
    assert effective_keys(delete, {"delete": "x"}) == "x"
    assert effective_keys(delete, {}) == "D,delete"
    text = help_text({"delete": "x"}, readonly=True)
    line = next(line for line in text.splitlines() if "Delete the marked" in line)
    assert line.split()[0] == "x" and "read-only" in line
    assert display("question_mark,f1") == "? f1"


def test_every_binding_id_is_unique_and_every_action_exists() -> None:
    from ocis_tui.screens.browser import BrowserScreen

    assert len({k.id for k in KEYS}) == len(KEYS)
    for key in KEYS:
        assert callable(getattr(BrowserScreen, f"action_{key.action}", None)), key.action


def test_cli_equivalents_are_real_ocis_commands() -> None:
    assert command("ls", path="/docs") == "ocis ls /docs"
    assert command("ls", space="Physics", path="/runs", context="paris") == \
        "ocis --context paris ls Physics:/runs"
    assert command("delete", path="/old", folder=True) == "ocis rm -r /old"
    assert command("rename", path="/a b.txt", target="/c.txt") == "ocis mv '/a b.txt' /c.txt"
    assert command("upload", space="Physics", path="/r.pdf", local="/tmp/r.pdf") == \
        "ocis put /tmp/r.pdf Physics:/r.pdf"
    assert command("restore", space="Physics", target="k1") == "ocis trash restore k1 Physics"
    with pytest.raises(ValueError):
        command("share")


def test_cli_equivalents_parse_with_the_real_cli() -> None:
    """Each line names a command and arguments `ocis` accepts (checked with --help parsing)."""
    import shlex

    from typer.main import get_command

    from ocis_cli.main import app

    root = get_command(app)
    lines = [command("ls", path="/d"), command("mkdir", path="/d"), command("delete", path="/d",
             folder=True), command("rename", path="/a", target="/b"),
             command("upload", path="/a", local="x"), command("download", path="/a", local="x"),
             command("trash", space="P"), command("restore", target="k", space="P")]
    for line in lines:
        args = shlex.split(line)[1:]
        cmd = root
        while hasattr(cmd, "commands"):               # descend the groups: `trash restore ...`
            cmd = cmd.commands[args.pop(0)]
        cmd.make_context(line, args)                  # parses, raises on a bad argument


def test_transfer_speed_eta_and_totals() -> None:
    now = [0.0]
    model = Transfers(clock=lambda: now[0])
    item = model.add("download", "a.bin", 1000)
    item.start()
    now[0] = 1.0
    item.update(250)
    now[0] = 2.0
    item.update(500)
    assert item.speed == 250.0 and item.eta == 2.0 and item.fraction == 0.5
    other = model.add("upload", "b.bin", 1000)
    other.start()
    assert model.totals() == (500, 2000, 250.0)
    item.finish(State.DONE)
    assert item.done == 1000 and not item.active and item.eta is None
    assert [t.name for t in model.active] == ["b.bin"]
    assert human_eta(75) == "01:15" and human_eta(3725) == "1:02:05" and human_eta(None) == "--:--"


def test_an_upload_waits_for_the_stream_only_while_one_follows() -> None:
    model = Transfers()
    alone = model.add("upload", "a.bin", 10, space_id="s", path="/a.bin")
    alone.start()
    model.settle(alone, following=False)              # no stream: done on the answer
    assert alone.state is State.DONE
    waits = model.add("upload", "b.bin", 10, space_id="s", path="/b.bin")
    waits.start()
    waits.item_id = "s!b"
    model.settle(waits, following=True)               # processing until the stream says so
    assert waits.state is State.PROCESSING and waits.done == 10 and not waits.settled
    assert model.totals()[:2] == (20, 20)
    assert model.ready("s!other") is None and waits.state is State.PROCESSING
    assert model.ready("s!b") is waits and waits.state is State.DONE and waits.announced
    early = model.add("upload", "c.bin", 10, space_id="s", path="/c.bin")
    early.start()
    model.ready("s!c")                                # the event before the upload's answer
    early.item_id = "s!c"
    model.settle(early, following=True)
    assert early.state is State.DONE
    lost = model.add("upload", "d.bin", 10, space_id="s", path="/d.bin")
    lost.start()
    model.settle(lost, following=True)
    model.stream_lost()                               # nobody will announce it any more
    assert lost.state is State.DONE


def test_names_are_checked_before_any_request() -> None:
    assert name_problem("report.pdf") is None
    for bad in (".", "..", "a/b", "a\\b", "x" * 256):
        assert name_problem(bad)


def test_ocis_tui_without_a_context_or_with_bad_settings(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ocis_cli.main import app

    for key in ("OCIS_CONTEXT", "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(app, ["tui"], prog_name="ocis")
    assert result.exit_code == 10 and "not logged in" in result.output
    result = runner.invoke(app, ["tui", "--context", "nowhere"], prog_name="ocis")
    assert result.exit_code == 10 and "nowhere" in result.output
    config = tmp_path / "ocis" / "config.toml"
    config.parent.mkdir()
    config.write_text('current-context = "h"\n[contexts.h]\nurl = "http://127.0.0.1:9"\n'
                      'user = "u"\npassword = "p"\n[tui.keys]\nexplode = "x"\n')
    result = runner.invoke(app, ["tui"], prog_name="ocis")
    assert result.exit_code == 2 and "explode" in result.output


def test_help_lists_each_section_once_and_wraps_in_its_column_at_80() -> None:
    from ocis_tui.bindings import KEYS

    width = 72                     # the overlay's inside at 80 columns (90 %, border, padding)
    text = help_text({}, readonly=True, width=width)
    lines = text.splitlines()
    for group in dict.fromkeys(k.group for k in KEYS):
        assert sum(1 for line in lines if line == group) == 1, group
    assert max(len(line) for line in lines) <= width
    table = lines[:lines.index(next(line for line in lines if line.startswith("In the spaces")))]
    for line in table:             # a key row, a section title, a blank, or a wrapped description
        if line and not line.startswith("  ") and line not in {k.group for k in KEYS}:
            raise AssertionError(f"unexpected line {line!r}")
        if line.startswith("  ") and not line.startswith("   "):
            assert line.rstrip().endswith("]"), line          # a key row ends with its [id]
        elif line.startswith("   "):
            assert line.startswith(" " * 14), line            # continued in the text column


def test_share_marker_says_who_shares() -> None:
    from datetime import UTC, datetime

    from ocis_cli.client import Resource
    from ocis_cli.client.webdav import parse_multistatus
    from ocis_tui.widgets.files import share_marker

    def item(perms: str, shares: tuple[int, ...]) -> Resource:
        return Resource("/a", "a", False, 1, datetime.now(UTC), '"e"', "i", perms,
                        share_types=shares)

    assert share_marker(item("SRDNVW", ())) == "S"          # shared with me
    assert share_marker(item("RDNVW", (0,))) == "s"          # I share it with a user
    assert share_marker(item("RDNVW", (1, 3))) == "sL"       # with a group, and a link
    assert share_marker(item("RDNVW", (3,))) == " L"
    assert share_marker(item("RDNVW", ())) == ""
    body = (b'<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:response>'
            b"<d:href>/dav/spaces/x/a</d:href><d:propstat><d:prop><oc:permissions>RDNVW"
            b"</oc:permissions><oc:share-types><oc:share-type>3</oc:share-type><oc:share-type>0"
            b"</oc:share-type></oc:share-types></d:prop><d:status>HTTP/1.1 200 OK</d:status>"
            b"</d:propstat></d:response></d:multistatus>")
    assert parse_multistatus(body)[0].share_types == (0, 3)


def test_transfer_total_counts_running_and_done() -> None:
    from ocis_tui.widgets.transfers import render_transfers
    from rich.console import Console

    now = [0.0]
    model = Transfers(clock=lambda: now[0])
    first, second, third = (model.add("upload", n, 100) for n in ("a", "b", "c"))
    for item in (first, second, third):
        item.start()
    first.finish(State.DONE)
    second.update(50)
    third.finish(State.FAILED, "boom")
    assert model.totals()[:2] == (150, 200)                  # a done, b half; c not counted
    console = Console(width=120, file=__import__("io").StringIO(), record=True)
    console.print(render_transfers(model))
    assert "1 running, 1 done" in console.export_text()
