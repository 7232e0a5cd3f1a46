"""Output for the ``argosy`` CLI: ``-o json|yaml|wide|name|tree``, tables, and a live progress view
(rich when stdout is a terminal, plain lines otherwise)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["OutputOpt", "Progress", "emit", "table"]

OutputOpt = Annotated[str, typer.Option("--output", "-o", help="json|yaml|wide|name|tree (default: table).")]


def emit(data: Any, fmt: str) -> bool:
    """Print ``data`` as JSON or YAML when asked; False when ``fmt`` is a table format."""
    if fmt == "json":
        print(json.dumps(data, indent=2))
        return True
    if fmt == "yaml":
        print(yaml.safe_dump(data, sort_keys=False), end="")
        return True
    return False


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """argocd-style tab-aligned columns (plain text so scripts can cut them)."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


class Progress:
    """Shows the latest state line: a rich live view on a terminal, one plain line per change otherwise."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.tty = sys.stdout.isatty()
        self._last = ""
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.tty:
            self._live = Live(self._render(""), console=Console(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def _render(self, text: str) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_row(f"[bold]{self.title}[/bold]", text)
        return grid

    def update(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        if self._live is not None:
            self._live.update(self._render(text))
        else:
            print(f"{self.title} {text}", flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
