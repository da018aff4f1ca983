"""Terminal output: rich progress for long commands, tables for boards and summaries."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


class Bar:
    """start(total) / advance(label): the interface batch, calibrate and demo report through."""

    def __init__(self, progress: Progress, description: str):
        self.progress, self.description, self.task = progress, description, None

    def start(self, total: int) -> None:
        self.task = self.progress.add_task(self.description, total=total)

    def advance(self, label: str = "") -> None:
        if self.task is None:
            self.start(0)
        self.progress.update(self.task, advance=1, description=f"{self.description} {label}".strip())


@contextmanager
def progress_bar(description: str, enabled: bool = True, total: int | None = None):
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err,
                        disable=not enabled, transient=False)
    with progress:
        bar = Bar(progress, description)
        if total is not None:
            bar.start(total)
        yield bar


def fmt(x, digits: int = 5) -> str:
    if isinstance(x, (list, tuple)):
        return " ".join(map(str, x))
    return "" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def board_table(board, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for c in ("rank", "name", "score", "entries", "last", "points", "baselines"):
        t.add_column(c, justify="right" if c in ("rank", "score", "entries", "points") else "left")
    for r in board.rows:
        style = "yellow italic" if r.baseline else None
        t.add_row("" if r.rank is None else str(r.rank), r.name, fmt(r.score), "" if r.baseline else str(r.entries),
                  r.last.strftime("%m-%d %H:%M") if r.last else "", "" if r.baseline else f"{r.points:g}",
                  " ".join(r.levels), style=style)
    return t


def dict_table(rows: list[dict], title: str = "", columns: list[str] | None = None) -> Table:
    t = Table(title=title or None, title_justify="left")
    cols = columns or (list(rows[0]) if rows else [])
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*(fmt(r.get(c)) for c in cols))
    return t
