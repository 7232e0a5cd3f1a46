"""The command groups of ``argosy``; command modules attach their commands to these."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="argosy",
    help="Argosy: GitOps continuous delivery for Kubernetes (Argo CD compatible).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
cluster = typer.Typer(
    help="Run local Kubernetes control planes (etcd, apiserver, kwok) for development.", no_args_is_help=True
)
admin = typer.Typer(help="Tools for people who write policies and manifests.", no_args_is_help=True)
admin_settings = typer.Typer(help="Check settings from argocd-cm and argocd-rbac-cm.", no_args_is_help=True)
resource_overrides = typer.Typer(help="Try resource customizations (health checks).", no_args_is_help=True)
rbac = typer.Typer(help="Evaluate and lint RBAC policies.", no_args_is_help=True)

app.add_typer(cluster, name="cluster")
app.add_typer(admin, name="admin")
admin.add_typer(admin_settings, name="settings")
admin_settings.add_typer(resource_overrides, name="resource-overrides")
admin_settings.add_typer(rbac, name="rbac")
