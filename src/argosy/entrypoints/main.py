"""The ``argosy`` console script: every CLI command plus the ones that run Argosy itself."""

from __future__ import annotations

from argosy.cli import main as _cli  # noqa: F401  (registers the CLI's command modules)
from argosy.cli.groups import app
from argosy.entrypoints import quickstart as _quickstart  # noqa: F401  (also registers server commands)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
