"""The transfers panel (`t`): total and per-file progress, speed, ETA; redrawn on a timer."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ocis_tui.transfers import State, Transfer, Transfers, human_eta, human_size

MAX_ROWS = 6


def _row(table: Table, label: str, done: int, total: int, speed: float,
         eta: float | None, state: str) -> None:
    bar = ProgressBar(total=max(total, 1), completed=min(done, max(total, 1)), width=None)
    pct = f"{(done / total * 100) if total else 100:5.1f}%"
    table.add_row(Text(label, overflow="ellipsis", no_wrap=True), bar, pct,
                  f"{human_size(done)}/{human_size(total)}", f"{human_size(speed)}/s",
                  human_eta(eta), state)


def render_transfers(model: Transfers) -> RenderableType:
    if not model.items:
        return Text("No transfers yet: d downloads, u uploads.")
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(ratio=3, no_wrap=True)
    table.add_column(ratio=4)
    for _ in range(4):
        table.add_column(no_wrap=True, justify="right")
    table.add_column(no_wrap=True)
    done, total, speed = model.totals()
    running = len(model.active)
    processing = sum(1 for t in model.items if t.state is State.PROCESSING)
    finished = sum(1 for t in model.items if t.state is State.DONE)
    eta = (total - done) / speed if speed > 0 and running else None
    _row(table, "Total", done, total, speed, eta, f"{running} running, " + (
        f"{processing} processing, " if processing else "") + f"{finished} done")
    for item in model.items[-MAX_ROWS:]:
        _row(table, ("↑ " if item.direction == "upload" else "↓ ") + item.name, item.done,
             item.total, item.speed if item.active else 0.0, item.eta, _state(item))
    return Group(table)


def _state(item: Transfer) -> str:
    """`processing` while the server prepares an upload (until the stream's
    postprocessing-finished), `done elsewhere` for another client's upload."""
    return "done elsewhere" if item.elsewhere else str(item.state.value)


class TransfersPanel(Static):
    DEFAULT_CSS = """
    TransfersPanel { height: auto; max-height: 10; border: round $accent;
                     display: none; }
    TransfersPanel.shown { display: block; }
    """

    def __init__(self, model: Transfers, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.model = model

    def on_mount(self) -> None:
        self.border_title = "Transfers"
        self.set_interval(0.25, self.redraw)

    def redraw(self) -> None:
        if self.display:
            self.update(render_transfers(self.model))
