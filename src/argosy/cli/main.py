"""All command modules of the CLI layer (the console script, ``argosy.entrypoints.main``, adds the
commands that need the composition root)."""

from __future__ import annotations

# Command modules register themselves on the groups when imported.
from argosy.cli import account as _account  # noqa: F401
from argosy.cli import admin_health as _admin_health  # noqa: F401
from argosy.cli import admin_notifications as _admin_notifications  # noqa: F401
from argosy.cli import admin_rbac as _admin_rbac  # noqa: F401
from argosy.cli import admin_syncplan as _admin_syncplan  # noqa: F401
from argosy.cli import app as _app  # noqa: F401
from argosy.cli import cluster as _cluster  # noqa: F401
from argosy.cli import context as _context  # noqa: F401
from argosy.cli import login as _login  # noqa: F401
from argosy.cli import proj as _proj  # noqa: F401
from argosy.cli import repo as _repo  # noqa: F401
from argosy.cli.groups import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
