"""``argosy admin settings resource-overrides health``: try health checks on a manifest.

Like ``argocd admin settings resource-overrides health``: prints ``STATUS:`` and ``MESSAGE:`` for the
resource, using the Lua health overrides of an argocd-cm ConfigMap when one is given, then the
built-in checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from argosy.cli.groups import resource_overrides
from argosy.core.health import HealthOverrides, assess, load_all_yaml, load_yaml


def _read_yaml_file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot read {what} {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=1) from exc


def _load_overrides(path: Path | None) -> HealthOverrides:
    if path is None:
        return HealthOverrides()
    try:
        doc: Any = load_yaml(_read_yaml_file(path, "argocd-cm"))
    except yaml.YAMLError as exc:
        typer.echo(f"error: {path} is not valid YAML: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    if not isinstance(doc, dict):
        typer.echo(f"error: {path} is not a ConfigMap", err=True)
        raise typer.Exit(code=1)
    data = doc.get("data") if "data" in doc or doc.get("kind") == "ConfigMap" else doc
    overrides = HealthOverrides.from_argocd_cm(data if isinstance(data, dict) else {})
    for problem in overrides.errors:
        typer.echo(f"warning: {problem}", err=True)
    return overrides


@resource_overrides.command("health")
def health(
    resource_yaml: Annotated[
        Path, typer.Argument(help="File with the live resource manifest (YAML or JSON).")
    ],
    argocd_cm_path: Annotated[
        Path | None,
        typer.Option("--argocd-cm-path", help="argocd-cm ConfigMap file with resource.customizations."),
    ] = None,
) -> None:
    """Assess the health of a resource, with the health overrides from argocd-cm."""
    overrides = _load_overrides(argocd_cm_path)
    try:
        docs = load_all_yaml(_read_yaml_file(resource_yaml, "resource"))
    except yaml.YAMLError as exc:
        typer.echo(f"error: {resource_yaml} is not valid YAML: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    objects = [doc for doc in docs if isinstance(doc, dict)]
    if not objects:
        typer.echo(f"error: {resource_yaml} holds no Kubernetes object", err=True)
        raise typer.Exit(code=1)
    for index, obj in enumerate(objects):
        if len(objects) > 1:
            if index:
                typer.echo("")
            name = (
                (obj.get("metadata") or {}).get("name", "") if isinstance(obj.get("metadata"), dict) else ""
            )
            typer.echo(f"RESOURCE: {obj.get('kind', '')}/{name}")
        result = assess(obj, overrides=overrides)
        if result is None:
            typer.echo(
                f"Health script is not configured for {obj.get('apiVersion', '')}, Kind={obj.get('kind', '')}"
            )
            continue
        typer.echo(f"STATUS: {result.status}")
        typer.echo(f"MESSAGE: {result.message}")
