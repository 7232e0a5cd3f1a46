"""``argosy app ...``: argocd's application commands over the API server (argocd-semantics §4.2).

Exit codes as argocd: 0 success, 1 when a waited-for operation ends other than Succeeded, on a
timeout, on Degraded health while waiting, and from ``app diff`` when there are differences (2 on
error there), 20 for every other error.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from argosy.cli.client import (
    EXIT_FAILED,
    ApiClient,
    CliError,
    ConfigOpt,
    GrpcWebOpt,
    InsecureOpt,
    PlaintextOpt,
    ServerOpt,
    TokenOpt,
    conn,
    errors,
    fail,
    q,
)
from argosy.cli.groups import app as root
from argosy.cli.output import OutputOpt, Progress, emit, table

app_cmd = typer.Typer(help="Manage applications.", no_args_is_help=True)
actions_cmd = typer.Typer(help="Run resource actions.", no_args_is_help=True)
root.add_typer(app_cmd, name="app")
app_cmd.add_typer(actions_cmd, name="actions")

APPS = "/api/v1/applications"
TERMINAL = {"Succeeded", "Failed", "Error"}
TimeoutOpt = Annotated[int, typer.Option("--timeout", help="Seconds to wait; 0 waits forever.")]


def _poll_interval() -> float:
    try:
        return max(0.05, float(os.environ.get("ARGOSY_POLL_INTERVAL", "1")))
    except ValueError:
        return 1.0


def _status(app: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    st = app.get("status") or {}
    return (
        str((st.get("sync") or {}).get("status") or "Unknown"),
        str((st.get("health") or {}).get("status") or "Unknown"),
        st.get("operationState") or {},
    )


def _source(app: dict[str, Any]) -> dict[str, Any]:
    spec = app.get("spec") or {}
    src = spec.get("source")
    if isinstance(src, dict):
        return src
    sources = spec.get("sources") or [{}]
    return sources[0] if isinstance(sources[0], dict) else {}


def _policy_name(policy: Any) -> str:
    automated = policy.get("automated") if isinstance(policy, dict) else None
    if not isinstance(automated, dict) or automated.get("enabled") is False:
        return "Manual"
    return "Auto" + ("-Prune" if automated.get("prune") else "")


def _argosy(app: dict[str, Any]) -> dict[str, Any]:
    argosy = (app.get("status") or {}).get("argosy")
    return argosy if isinstance(argosy, dict) else {}


def _sync_policy(app: dict[str, Any]) -> str:
    """The effective policy the controller recorded (profile merged), else the Application's own."""
    effective = _argosy(app).get("effectiveSyncPolicy")
    if isinstance(effective, dict):
        return _policy_name(effective)
    return _policy_name((app.get("spec") or {}).get("syncPolicy"))


def drift_of(app: dict[str, Any]) -> dict[str, Any]:
    """``status.argosy.drift`` (recorded by the controller; docs/controller.md)."""
    drift = _argosy(app).get("drift")
    return drift if isinstance(drift, dict) else {}


def is_drifted(app: dict[str, Any]) -> bool:
    """Live drift: fields changed in the cluster by another manager, or out of sync at the revision
    last deployed (``reason: LiveDrift``), as opposed to a new revision in Git."""
    drift = drift_of(app)
    return drift.get("detected") is True or drift.get("reason") == "LiveDrift"


def drift_summary(app: dict[str, Any]) -> str:
    """``LiveDrift: 2 fields by kubectl-patch`` (the DRIFT column of ``app list --drifted``)."""
    drift = drift_of(app)
    fields = [f for f in drift.get("fields") or [] if isinstance(f, dict)] if drift.get("detected") else []
    reason = str(drift.get("reason") or ("LiveDrift" if fields else ""))
    if not fields:
        return reason or "<none>"
    managers = ",".join(sorted({str(f.get("manager") or "?") for f in fields}))
    return f"{reason}: {len(fields)} field{'s' if len(fields) != 1 else ''} by {managers}"


def _lookup(policy: dict[str, Any], path: str) -> Any:
    if path.startswith("syncOptions."):
        key = path.removeprefix("syncOptions.")
        for option in policy.get("syncOptions") or []:
            if str(option).partition("=")[0].strip() == key:
                return option
        return None
    value: Any = policy
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def policy_rows(app: dict[str, Any]) -> list[list[str]]:
    """One row per field of the effective sync policy: path, value, origin (``application``,
    ``profile:<name>`` or ``default``), from ``status.argosy`` (docs/profiles.md)."""
    argosy = _argosy(app)
    effective = argosy.get("effectiveSyncPolicy")
    effective = effective if isinstance(effective, dict) else {}
    origin = argosy.get("policyOrigin")
    if not isinstance(origin, dict):
        return []
    rows = []
    for path in sorted(origin):
        if path in ("automated", "retry"):
            continue  # shown through their fields
        rows.append([path, _show(_lookup(effective, path)), str(origin[path])])
    return rows


def _policy_origin(app: dict[str, Any]) -> str:
    """Where the policy comes from, for the ``Sync Policy:`` line."""
    argosy = _argosy(app)
    origin = argosy.get("policyOrigin")
    if not isinstance(origin, dict) or not origin:
        return ""
    sources = sorted({str(v) for v in origin.values() if v != "default"})
    return ", ".join(sources) if sources else "default"


def _row(app: dict[str, Any]) -> list[str]:
    spec = app.get("spec") or {}
    dest = spec.get("destination") or {}
    sync, health, _ = _status(app)
    conditions = ",".join(
        sorted(
            {
                str(c.get("type"))
                for c in (app.get("status") or {}).get("conditions") or []
                if isinstance(c, dict)
            }
        )
    )
    src = _source(app)
    return [
        app["metadata"]["name"],
        dest.get("server") or dest.get("name") or "",
        dest.get("namespace", ""),
        spec.get("project") or "default",
        sync,
        health,
        _sync_policy(app),
        conditions or "<none>",
        src.get("repoURL", ""),
        src.get("path", src.get("chart", "")),
        src.get("targetRevision", ""),
    ]


HEADERS = [
    "NAME",
    "CLUSTER",
    "NAMESPACE",
    "PROJECT",
    "STATUS",
    "HEALTH",
    "SYNCPOLICY",
    "CONDITIONS",
    "REPO",
    "PATH",
    "TARGET",
]


@app_cmd.command("list")
def list_apps(
    *,
    output: OutputOpt = "",
    selector: Annotated[str, typer.Option("--selector", "-l", help="Label selector.")] = "",
    project: Annotated[list[str] | None, typer.Option("--project", "-p", help="Filter by project.")] = None,
    repo: Annotated[str, typer.Option("--repo", "-r", help="Filter by repository URL.")] = "",
    drifted: Annotated[
        bool,
        typer.Option("--drifted", help="Only applications whose live state drifted from Git."),
    ] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List applications (``--drifted``: those with live drift, spec §8.4)."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        params: dict[str, Any] = {}
        if selector:
            params["selector"] = selector
        if project:
            params["projects"] = project
        if repo:
            params["repo"] = repo
        items = client.get(APPS, params=params).get("items") or []
    if drifted:
        items = [a for a in items if is_drifted(a)]
    if emit(items, output):
        return
    if output == "name":
        for a in items:
            print(a["metadata"]["name"])
        return
    if drifted:
        table([*HEADERS, "DRIFT"], [[*_row(a), drift_summary(a)] for a in items])
        return
    table(HEADERS, [_row(a) for a in items])


def _print_policy_and_drift(app: dict[str, Any]) -> None:
    argosy = _argosy(app)
    rows = policy_rows(app)
    if argosy.get("profile") or rows:
        print()
        print(f"{'Profile:':<15}{argosy.get('profile') or '<none>'}")
        if rows:
            print("Effective Sync Policy:")
            table(["FIELD", "VALUE", "ORIGIN"], rows)
    drift = drift_of(app)
    fields = [f for f in drift.get("fields") or [] if isinstance(f, dict)]
    if drift.get("reason") or fields:
        print()
        if drift.get("reason"):
            print(f"{'OutOfSync:':<15}{drift['reason']}")
        state = "detected" if drift.get("detected") else "healed (last drift below)" if fields else "none"
        print(f"{'Drift:':<15}{state}")
        if fields:
            table(
                ["FIELD", "MANAGER", "TIME"],
                [[str(f.get("path", "")), str(f.get("manager", "")), str(f.get("time", ""))] for f in fields],
            )


def _print_app(app: dict[str, Any], server_url: str, show_operation: bool) -> None:
    spec = app.get("spec") or {}
    dest = spec.get("destination") or {}
    src = _source(app)
    sync, health, op = _status(app)
    revision = ((app.get("status") or {}).get("sync") or {}).get("revision", "")
    name = app["metadata"]["name"]
    lines = [
        ("Name:", f"{app['metadata'].get('namespace', '')}/{name}"),
        ("Project:", spec.get("project") or "default"),
        ("Server:", dest.get("server") or dest.get("name") or ""),
        ("Namespace:", dest.get("namespace", "")),
        ("URL:", f"{server_url}/applications/{name}"),
        ("Source:", ""),
        ("- Repo:", src.get("repoURL", "")),
        ("  Target:", src.get("targetRevision", "")),
        ("  Path:", src.get("path", "")),
        (
            "Sync Policy:",
            _sync_policy(app) + (f" (from {origin})" if (origin := _policy_origin(app)) else ""),
        ),
        (
            "Sync Status:",
            f"{sync} to {src.get('targetRevision') or 'HEAD'}" + (f" ({revision[:7]})" if revision else ""),
        ),
        ("Health Status:", health),
    ]
    for label, value in lines:
        print(f"{label:<15}{value}")
    _print_policy_and_drift(app)
    if show_operation and op:
        print()
        print(f"{'Operation:':<15}Sync")
        print(f"{'Sync Revision:':<15}{(op.get('syncResult') or {}).get('revision', '')}")
        print(f"{'Phase:':<15}{op.get('phase', '')}")
        print(f"{'Start:':<15}{op.get('startedAt', '')}")
        print(f"{'Finished:':<15}{op.get('finishedAt', '')}")
        print(f"{'Message:':<15}{op.get('message', '')}")
    resources = (app.get("status") or {}).get("resources") or []
    if resources:
        print()
        table(
            ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"],
            [
                [
                    r.get("group", ""),
                    r.get("kind", ""),
                    r.get("namespace", ""),
                    r.get("name", ""),
                    r.get("status", ""),
                    (r.get("health") or {}).get("status", ""),
                    "",
                    (r.get("health") or {}).get("message", ""),
                ]
                for r in resources
            ],
        )


def _print_tree(app: dict[str, Any]) -> None:
    print(app["metadata"]["name"])
    resources = (app.get("status") or {}).get("resources") or []
    for i, r in enumerate(resources):
        branch = "└──" if i == len(resources) - 1 else "├──"
        health = (r.get("health") or {}).get("status", "")
        print(f"{branch} {r.get('kind', '')}/{r.get('name', '')}  {r.get('status', '')}  {health}".rstrip())


@app_cmd.command("get")
def get_app(
    name: str,
    *,
    output: OutputOpt = "",
    refresh: Annotated[bool, typer.Option("--refresh", help="Refresh before showing.")] = False,
    hard_refresh: Annotated[
        bool, typer.Option("--hard-refresh", help="Refresh, dropping the manifest cache.")
    ] = False,
    show_operation: Annotated[
        bool, typer.Option("--show-operation", help="Show the last operation.")
    ] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show an application."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        params = {"refresh": "hard"} if hard_refresh else {"refresh": "normal"} if refresh else {}
        app = client.get(f"{APPS}/{q(name)}", params=params)
        base = client.base
    if emit(app, output):
        return
    if output == "tree":
        _print_tree(app)
        return
    _print_app(app, base, show_operation or output == "wide")


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise CliError(f"{path} does not hold an Application")
    return doc


@app_cmd.command("create")
def create_app(
    name: Annotated[str, typer.Argument(help="Application name (or from --file).")] = "",
    *,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Application manifest.")] = None,
    repo: Annotated[str, typer.Option("--repo", help="Repository URL.")] = "",
    path: Annotated[str, typer.Option("--path", help="Path in the repository.")] = "",
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "",
    dest_server: Annotated[str, typer.Option("--dest-server", help="Cluster URL.")] = "",
    dest_namespace: Annotated[str, typer.Option("--dest-namespace", help="Namespace.")] = "",
    project: Annotated[str, typer.Option("--project", help="Project.")] = "default",
    sync_policy: Annotated[str, typer.Option("--sync-policy", help="none|automated.")] = "",
    auto_prune: Annotated[bool, typer.Option("--auto-prune")] = False,
    self_heal: Annotated[bool, typer.Option("--self-heal")] = False,
    sync_option: Annotated[list[str] | None, typer.Option("--sync-option")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="key=value")] = None,
    upsert: Annotated[bool, typer.Option("--upsert", help="Update an existing app.")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Create an application from flags or a manifest."""
    with errors():
        if file is not None:
            body = _load_manifest(file)
            if name:
                body.setdefault("metadata", {})["name"] = name
        else:
            if not name:
                raise CliError("an application name is required")
            body = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": name},
                "spec": {
                    "project": project,
                    "source": {"repoURL": repo, "path": path, "targetRevision": revision or "HEAD"},
                    "destination": {
                        "server": dest_server or "https://kubernetes.default.svc",
                        "namespace": dest_namespace,
                    },
                },
            }
        _apply_flags(
            body,
            sync_policy=sync_policy,
            auto_prune=auto_prune,
            self_heal=self_heal,
            sync_options=sync_option or [],
            labels=label or [],
        )
        with conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
            created = client.post(APPS, body, params={"upsert": "true"} if upsert else {})
    print(f"application '{created['metadata']['name']}' {'updated' if upsert else 'created'}")


def _apply_flags(
    body: dict[str, Any],
    *,
    sync_policy: str,
    auto_prune: bool,
    self_heal: bool,
    sync_options: list[str],
    labels: list[str],
) -> None:
    spec = body.setdefault("spec", {})
    policy = (
        spec.setdefault("syncPolicy", {})
        if (sync_policy or auto_prune or self_heal or sync_options)
        else None
    )
    if policy is not None:
        if sync_policy in ("automated", "auto", "automatic") or auto_prune or self_heal:
            automated = policy.setdefault("automated", {})
            if auto_prune:
                automated["prune"] = True
            if self_heal:
                automated["selfHeal"] = True
        if sync_policy in ("none", "manual"):
            policy.pop("automated", None)
        elif sync_policy and sync_policy not in ("automated", "auto", "automatic"):
            raise CliError(f"invalid sync policy {sync_policy!r}: use automated or none")
        if sync_options:
            existing = [
                o
                for o in policy.get("syncOptions") or []
                if o.split("=")[0] not in {s.split("=")[0] for s in sync_options}
            ]
            policy["syncOptions"] = [*existing, *sync_options]
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"invalid label {item!r}: use key=value")
        body.setdefault("metadata", {}).setdefault("labels", {})[key] = value


@app_cmd.command("set")
def set_app(
    name: str,
    *,
    repo: Annotated[str, typer.Option("--repo")] = "",
    path: Annotated[str, typer.Option("--path")] = "",
    revision: Annotated[str, typer.Option("--revision")] = "",
    dest_namespace: Annotated[str, typer.Option("--dest-namespace")] = "",
    project: Annotated[str, typer.Option("--project")] = "",
    sync_policy: Annotated[str, typer.Option("--sync-policy", help="automated|none")] = "",
    auto_prune: Annotated[bool, typer.Option("--auto-prune")] = False,
    self_heal: Annotated[bool, typer.Option("--self-heal")] = False,
    sync_option: Annotated[list[str] | None, typer.Option("--sync-option")] = None,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Change an application's spec."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        app = client.get(f"{APPS}/{q(name)}")
        spec = app.setdefault("spec", {})
        src = spec.get("source") if isinstance(spec.get("source"), dict) else None
        if src is not None:
            for key, value in (("repoURL", repo), ("path", path), ("targetRevision", revision)):
                if value:
                    src[key] = value
        if dest_namespace:
            spec.setdefault("destination", {})["namespace"] = dest_namespace
        if project:
            spec["project"] = project
        _apply_flags(
            app,
            sync_policy=sync_policy,
            auto_prune=auto_prune,
            self_heal=self_heal,
            sync_options=sync_option or [],
            labels=[],
        )
        client.put(f"{APPS}/{q(name)}", {"metadata": app["metadata"], "spec": spec})


@app_cmd.command("delete")
def delete_app(
    name: str,
    *,
    cascade: Annotated[
        bool, typer.Option("--cascade/--no-cascade", help="Delete the app's resources too.")
    ] = True,
    propagation_policy: Annotated[str, typer.Option("--propagation-policy", "-p")] = "foreground",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Delete an application."""
    if not yes and os.isatty(0) and not typer.confirm(f"Are you sure you want to delete '{name}'?"):
        raise typer.Exit(0)
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        client.delete(
            f"{APPS}/{q(name)}",
            params={"cascade": str(cascade).lower(), "propagationPolicy": propagation_policy},
        )
    print(f"application '{name}' deleted")


# -- waiting ------------------------------------------------------------------------------------


def wait_app(
    client: ApiClient,
    name: str,
    *,
    sync: bool,
    health: bool,
    operation: bool,
    suspended: bool = False,
    degraded: bool = False,
    timeout: int = 0,
    previous_start: str | None = None,
) -> dict[str, Any]:
    """Poll the application until every named condition holds. Raises CliError(1) on a failed
    operation, fast-failing Degraded health, or the timeout."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    prev_health = ""
    interval = _poll_interval()
    with Progress(f"application {name}") as progress:
        while True:
            app: dict[str, Any] = client.get(f"{APPS}/{q(name)}")
            sync_s, health_s, op = _status(app)
            phase = str(op.get("phase") or "")
            new_op = previous_start is None or (op.get("startedAt") or "") != previous_start
            op_done = not app.get("operation") and new_op and phase not in ("Running", "Terminating")
            progress.update(f"sync={sync_s} health={health_s} operation={phase or '-'}")
            if operation and op_done and phase in ("Failed", "Error"):
                raise CliError(
                    f"Operation has completed with phase: {phase}: {op.get('message', '')}", EXIT_FAILED
                )
            if (
                health
                and not degraded
                and health_s == "Degraded"
                and prev_health not in ("", "Unknown", "Degraded")
            ):
                raise CliError(
                    f"application '{name}' health state has transitioned from {prev_health} to Degraded",
                    EXIT_FAILED,
                )
            prev_health = health_s
            done = (
                (not sync or sync_s == "Synced")
                and (not health or health_s == "Healthy")
                and (not operation or op_done)
                and (not suspended or health_s == "Suspended")
                and (not degraded or health_s == "Degraded")
            )
            if done:
                return app
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"timed out ({timeout}s) waiting for app {name!r} (sync={sync_s}, health={health_s}, "
                    f"operation={phase or '-'})",
                    EXIT_FAILED,
                )
            time.sleep(interval)


@app_cmd.command("wait")
def wait_cmd(
    name: str,
    *,
    sync: Annotated[bool, typer.Option("--sync", help="Wait for Synced.")] = False,
    health: Annotated[bool, typer.Option("--health", help="Wait for Healthy.")] = False,
    operation: Annotated[bool, typer.Option("--operation", help="Wait for the operation to end.")] = False,
    suspended: Annotated[bool, typer.Option("--suspended", help="Wait for Suspended.")] = False,
    degraded: Annotated[bool, typer.Option("--degraded", help="Wait for Degraded.")] = False,
    timeout: TimeoutOpt = 0,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Wait for sync + health + operation (or only the conditions named)."""
    if not (sync or health or operation or suspended or degraded):
        sync = health = operation = True
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        app = wait_app(
            client,
            name,
            sync=sync,
            health=health,
            operation=operation,
            suspended=suspended,
            degraded=degraded,
            timeout=timeout,
        )
        base = client.base
    _print_app(app, base, show_operation=False)


def _parse_resource(text: str) -> dict[str, str]:
    parts = text.split(":")
    if len(parts) != 3:
        raise CliError(f"invalid --resource {text!r}: use GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME")
    group, kind, name = parts
    namespace, _, short = name.rpartition("/")
    return {"group": group, "kind": kind, "name": short, "namespace": namespace}


def _print_operation(app: dict[str, Any]) -> None:
    _, _, op = _status(app)
    result = op.get("syncResult") or {}
    print(f"{'Name:':<15}{app['metadata'].get('namespace', '')}/{app['metadata']['name']}")
    print(f"{'Operation:':<15}Sync")
    print(f"{'Sync Revision:':<15}{result.get('revision', '')}")
    print(f"{'Phase:':<15}{op.get('phase', '')}")
    print(f"{'Start:':<15}{op.get('startedAt', '')}")
    print(f"{'Finished:':<15}{op.get('finishedAt', '')}")
    print(f"{'Message:':<15}{op.get('message', '')}")
    resources = result.get("resources") or []
    if resources:
        print()
        table(
            ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HOOK", "MESSAGE"],
            [
                [
                    r.get("group", ""),
                    r.get("kind", ""),
                    r.get("namespace", ""),
                    r.get("name", ""),
                    r.get("status", ""),
                    r.get("hookType", ""),
                    r.get("message", ""),
                ]
                for r in resources
            ],
        )


@app_cmd.command("sync")
def sync_cmd(
    name: str,
    *,
    revision: Annotated[str, typer.Option("--revision", help="Revision to sync to.")] = "",
    prune: Annotated[bool, typer.Option("--prune")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    force: Annotated[bool, typer.Option("--force")] = False,
    strategy: Annotated[str, typer.Option("--strategy", help="apply|hook")] = "",
    resource: Annotated[
        list[str] | None, typer.Option("--resource", help="GROUP:KIND:NAME (repeatable).")
    ] = None,
    sync_option: Annotated[list[str] | None, typer.Option("--sync-option")] = None,
    info: Annotated[list[str] | None, typer.Option("--info", help="key=value")] = None,
    retry_limit: Annotated[int, typer.Option("--retry-limit")] = 0,
    async_: Annotated[bool, typer.Option("--async", help="Do not wait for the operation.")] = False,
    timeout: TimeoutOpt = 0,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Sync an application (writes .operation), then wait for the operation unless --async."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        body: dict[str, Any] = {"name": name, "revision": revision, "prune": prune, "dryRun": dry_run}
        if strategy or force:
            body["strategy"] = {strategy or "hook": {"force": force}}
        if resource:
            body["resources"] = [_parse_resource(r) for r in resource]
        if sync_option:
            body["syncOptions"] = {"items": sync_option}
        if info:
            body["infos"] = [{"name": k, "value": v} for k, _, v in (i.partition("=") for i in info)]
        if retry_limit:
            body["retryStrategy"] = {"limit": retry_limit}
        before = client.get(f"{APPS}/{q(name)}")
        previous_start = str(_status(before)[2].get("startedAt") or "")
        client.post(f"{APPS}/{q(name)}/sync", body)
        if async_:
            print(f"application '{name}' sync requested")
            return
        app = wait_app(
            client,
            name,
            sync=False,
            health=False,
            operation=True,
            timeout=timeout,
            previous_start=previous_start,
        )
        _print_operation(app)
        _, _, op = _status(app)
        if op.get("phase") != "Succeeded":
            raise CliError(f"Operation has completed with phase: {op.get('phase')}", EXIT_FAILED)
        pruning = [r for r in (app.get("status") or {}).get("resources") or [] if r.get("requiresPruning")]
        if not resource and pruning and _status(app)[0] == "OutOfSync":
            raise CliError(f"{len(pruning)} resources require pruning", EXIT_FAILED)


@app_cmd.command("diff")
def diff_cmd(
    name: str,
    *,
    refresh: Annotated[bool, typer.Option("--refresh")] = False,
    hard_refresh: Annotated[bool, typer.Option("--hard-refresh")] = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there is a diff.")] = True,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show the differences between desired and live state; exit 1 when there are any, 2 on error."""
    with errors(code=2), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        if refresh or hard_refresh:
            client.get(f"{APPS}/{q(name)}", params={"refresh": "hard" if hard_refresh else "normal"})
        items = client.get(f"{APPS}/{q(name)}/managed-resources").get("items") or []
    found = False
    for item in items:
        if not item.get("modified") or item.get("hook"):
            continue
        found = True
        live = json.loads(item.get("liveState") or "null")
        target = json.loads(item.get("targetState") or "null")
        where = f"{item.get('namespace', '')}/{item.get('name', '')}"
        print(f"===== {item.get('group', '')}/{item.get('kind', '')} {where} ======")
        a = yaml.safe_dump(live, sort_keys=True).splitlines() if live else []
        b = yaml.safe_dump(target, sort_keys=True).splitlines() if target else []
        for line in difflib.unified_diff(a, b, "live", "target", lineterm=""):
            print(line)
    if found and exit_code:
        raise typer.Exit(1)


@app_cmd.command("history")
def history_cmd(
    name: str,
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Show the deployment history."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        history = (client.get(f"{APPS}/{q(name)}").get("status") or {}).get("history") or []
    if emit(history, output):
        return
    if output == "id":
        for h in history:
            print(h.get("id"))
        return
    table(
        ["ID", "DATE", "REVISION"],
        [[h.get("id"), h.get("deployedAt", ""), h.get("revision", "")] for h in history],
    )


@app_cmd.command("rollback")
def rollback_cmd(
    name: str,
    history_id: Annotated[int, typer.Argument(help="History id (default: the previous one).")] = 0,
    *,
    prune: Annotated[bool, typer.Option("--prune")] = False,
    timeout: TimeoutOpt = 0,
    async_: Annotated[bool, typer.Option("--async")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Roll back to a history id and wait for the operation."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        before = client.get(f"{APPS}/{q(name)}")
        previous_start = str(_status(before)[2].get("startedAt") or "")
        client.post(f"{APPS}/{q(name)}/rollback", {"name": name, "id": history_id, "prune": prune})
        if async_:
            return
        app = wait_app(
            client,
            name,
            sync=False,
            health=False,
            operation=True,
            timeout=timeout,
            previous_start=previous_start,
        )
        _print_operation(app)
        if _status(app)[2].get("phase") != "Succeeded":
            raise CliError("rollback failed", EXIT_FAILED)


@app_cmd.command("manifests")
def manifests_cmd(
    name: str,
    *,
    revision: Annotated[str, typer.Option("--revision")] = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Print the desired manifests (Secrets masked)."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        result = client.get(f"{APPS}/{q(name)}/manifests", params={"revision": revision} if revision else {})
    for text in result.get("manifests") or []:
        print("---")
        print(yaml.safe_dump(json.loads(text), sort_keys=False), end="")


@app_cmd.command("resources")
def resources_cmd(
    name: str,
    *,
    output: OutputOpt = "",
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """List the application's managed resources."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        resources = (client.get(f"{APPS}/{q(name)}").get("status") or {}).get("resources") or []
    if emit(resources, output):
        return
    table(
        ["GROUP", "KIND", "NAMESPACE", "NAME", "ORPHANED"],
        [
            [r.get("group", ""), r.get("kind", ""), r.get("namespace", ""), r.get("name", ""), "No"]
            for r in resources
        ],
    )


@app_cmd.command("terminate-op")
def terminate_cmd(
    name: str,
    *,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Terminate the running operation."""
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        client.delete(f"{APPS}/{q(name)}/operation")
    print(f"Application '{name}' operation terminating")


@actions_cmd.command("run")
def run_action(
    name: str,
    action: str,
    *,
    kind: Annotated[str, typer.Option("--kind", help="Resource kind.")] = "",
    group: Annotated[str, typer.Option("--group", help="API group (default from --kind).")] = "",
    resource_name: Annotated[str, typer.Option("--resource-name", help="Resource name.")] = "",
    namespace: Annotated[str, typer.Option("--namespace", help="Resource namespace.")] = "",
    all_: Annotated[bool, typer.Option("--all", help="Every matching resource.")] = False,
    server: ServerOpt = None,
    auth_token: TokenOpt = None,
    insecure: InsecureOpt = False,
    plaintext: PlaintextOpt = False,
    grpc_web: GrpcWebOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Run a resource action (e.g. ``restart --kind Deployment``)."""
    if not kind:
        fail("--kind is required")
    with errors(), conn(server, auth_token, insecure, plaintext, grpc_web, config).client() as client:
        app = client.get(f"{APPS}/{q(name)}")
        targets = [
            r
            for r in (app.get("status") or {}).get("resources") or []
            if r.get("kind") == kind
            and (not group or r.get("group", "") == group)
            and (not resource_name or r.get("name") == resource_name)
            and (not namespace or r.get("namespace") == namespace)
        ]
        if not targets:
            raise CliError(f"no {kind} resources in application {name} match")
        if len(targets) > 1 and not (all_ or resource_name):
            raise CliError("several resources match; pass --resource-name or --all")
        for r in targets:
            client.post(
                f"{APPS}/{q(name)}/resource/actions",
                action,
                params={
                    "group": r.get("group", ""),
                    "kind": kind,
                    "resourceName": r.get("name", ""),
                    "namespace": r.get("namespace", ""),
                    "version": r.get("version", ""),
                },
            )
