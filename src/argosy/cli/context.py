"""``argosy context [NAME]``: list or switch the contexts saved by ``argosy login``."""

from __future__ import annotations

from typing import Annotated

import typer

from argosy.cli.client import CliError, ConfigOpt, errors, load_config, save_config
from argosy.cli.groups import app as root
from argosy.cli.output import table

__all__ = ["context"]


@root.command("context")
def context(
    name: Annotated[str, typer.Argument(help="Context to switch to.")] = "",
    delete: Annotated[bool, typer.Option("--delete", help="Delete the named context.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List contexts, switch to one, or delete one."""
    with errors():
        data = load_config(config)
        names = [str(c.get("name")) for c in data["contexts"] if isinstance(c, dict)]
        if not name:
            current = data.get("current-context")
            table(
                ["CURRENT", "NAME", "SERVER"],
                [
                    ["*" if c.get("name") == current else "", c.get("name", ""), c.get("server", "")]
                    for c in data["contexts"]
                    if isinstance(c, dict)
                ],
            )
            return
        if name not in names:
            raise CliError(f"no context named {name!r}")
        if delete:
            data["contexts"] = [c for c in data["contexts"] if c.get("name") != name]
            if data.get("current-context") == name:
                data["current-context"] = ""
            save_config(data, config)
            print(f"Context '{name}' deleted")
            return
        data["current-context"] = name
        save_config(data, config)
    print(f"Switched to context '{name}'")
