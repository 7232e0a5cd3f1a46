"""``argosy admin sync-plan DIR|FILE... [-o json]``: show the order a sync would apply manifests in.

Reads YAML or JSON manifests (multi-document files; directories are searched recursively for
``*.yaml``, ``*.yml`` and ``*.json``; ``kind: List`` is expanded), plans them with
``argosy.core.plan.build_plan`` against an empty cluster, and prints the ordered tasks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from argosy.cli.groups import admin
from argosy.core.plan import PlanError, PlanOptions, SyncPlan, build_plan
from argosy.model.annotations import AnnotationError, parse_sync_options

err = Console(stderr=True)
_SUFFIXES = (".yaml", ".yml", ".json")


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise typer.BadParameter(f"{path}: no such file or directory")


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse: {exc}") from exc
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise ValueError(f"{path}: a document is a {type(doc).__name__}, not a Kubernetes object")
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            yield from (item for item in doc["items"] if isinstance(item, Mapping))
        else:
            yield doc


def _table(plan: SyncPlan) -> str:
    header = ("PHASE", "WAVE", "OPERATION", "KIND", "NAMESPACE/NAME", "HOOK", "DELETE POLICY")
    rows = [header]
    for task in plan.tasks:
        rows.append(
            (
                str(task.phase),
                str(task.wave),
                str(task.operation),
                task.key.kind,
                f"{task.key.namespace}/{task.display_name}" if task.key.namespace else task.display_name,
                str(task.hook_type or "-"),
                ",".join(str(p) for p in task.delete_policies) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


@admin.command("sync-plan")
def sync_plan(
    paths: Annotated[list[Path], typer.Argument(help="Manifest files or directories (recursive).")],
    output: Annotated[str, typer.Option("-o", "--output", help="table or json")] = "table",
    sync_option: Annotated[
        list[str] | None,
        typer.Option("--sync-option", help="App-level sync option, e.g. PruneLast=true (repeatable)."),
    ] = None,
    namespace: Annotated[str, typer.Option("--namespace", help="Namespace for manifests without one.")] = "",
) -> None:
    """Print the ordered sync tasks for manifests: phase, wave, kind, namespace/name, hook, delete policy."""
    if output not in ("table", "json"):
        raise typer.BadParameter("expected table or json", param_hint="--output")
    try:
        manifests = [doc for path in _files(paths) for doc in _documents(path)]
        options = PlanOptions(sync_options=parse_sync_options(sync_option or []), default_namespace=namespace)
        plan = build_plan(manifests, (), options)
    except (ValueError, AnnotationError, PlanError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    for warning in plan.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    if output == "json":
        print(json.dumps([task.to_dict() for task in plan.tasks], indent=2))
    else:
        print(_table(plan))
