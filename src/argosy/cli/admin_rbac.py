"""``argosy admin settings rbac can|validate``: like ``argocd admin settings rbac can|validate``.

``can`` prints ``Yes`` and exits 0 when the request is allowed, prints ``No`` and exits 1 when it
is not (as Argo CD does); bad input (unreadable file, invalid policy, unknown resource or action
with ``--strict``) exits 20. ``validate`` prints linter findings and exits 1 if any is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from argosy.cli.groups import rbac
from argosy.core.rbac import (
    BUILTIN_POLICY_CSV,
    Enforcer,
    PolicyError,
    RbacConfig,
    Severity,
    lint_policy,
    lint_rbac_config,
    resolve_resource_name,
)
from argosy.core.rbac.vocabulary import APPLICATIONS, CLI_PROJECT_SCOPED_RESOURCES, RESOURCE_ACTIONS

err = Console(stderr=True)
EXIT_ERROR = 20

PolicyFileOption = typer.Option(
    "--policy-file", help="A policy CSV file, or an argocd-rbac-cm ConfigMap (YAML) with policy.csv etc."
)


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(EXIT_ERROR)


def _truthy(value: str, option: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "t", "yes"):
        return True
    if lowered in ("false", "0", "f", "no"):
        return False
    raise _fail(f"{option}: expected true or false, got {value!r}")


def _load(path: Path) -> tuple[dict[str, str] | None, str]:
    """Return (ConfigMap data, raw text); data is None when the file is a plain CSV policy."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc}") from exc
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict) and ("data" in doc or doc.get("kind") == "ConfigMap"):
        data = doc.get("data") or {}
        if not isinstance(data, dict):
            raise _fail(f"{path}: ConfigMap data is not a mapping")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}, text
    return None, text


def _validate_request(resource: str, action: str) -> None:
    actions = RESOURCE_ACTIONS.get(resource)
    if actions is None:
        raise _fail(f"'{resource}' is not a valid resource name")
    verb, slash, _rest = action.partition("/")
    if verb not in actions or (
        slash and (resource != APPLICATIONS or verb not in ("action", "update", "delete"))
    ):
        raise _fail(f"'{action}' is not a valid action for {resource}")


@rbac.command("can")
def can(
    subject: Annotated[str, typer.Argument(metavar="ROLE/SUBJECT")],
    action: Annotated[str, typer.Argument(metavar="ACTION")],
    resource: Annotated[str, typer.Argument(metavar="RESOURCE")],
    sub_resource: Annotated[str, typer.Argument(metavar="[SUB-RESOURCE]")] = "",
    *,
    policy_file: Annotated[Path, PolicyFileOption],
    default_role: Annotated[
        str, typer.Option("--default-role", help="Default role (overrides policy.default).")
    ] = "",
    use_builtin_policy: Annotated[
        str,
        typer.Option(
            "--use-builtin-policy",
            metavar="BOOL",
            help="Also use the built-in roles (role:admin, role:readonly); =false to omit them.",
        ),
    ] = "true",
    strict: Annotated[
        str, typer.Option("--strict", metavar="BOOL", help="Reject unknown resource and action names.")
    ] = "true",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; the exit code tells.")] = False,
    groups: Annotated[
        list[str] | None,
        typer.Option("--group", help="Evaluate SUBJECT as a signed-in user in this SSO group (repeatable)."),
    ] = None,
    scopes: Annotated[
        str,
        typer.Option(
            "--scopes", help="Comma-separated claims holding groups (default: ConfigMap scopes, or groups)."
        ),
    ] = "",
) -> None:
    """Check whether a role or subject may do ACTION on RESOURCE (exit 0 "Yes", exit 1 "No")."""
    data, text = _load(policy_file)
    config = RbacConfig.from_configmap_data(data) if data is not None else RbacConfig(policy_csv=text)
    if scopes:
        config = RbacConfig(
            policy_csv=config.policy_csv,
            default_role=config.default_role,
            match_mode=config.match_mode,
            scopes=tuple(s.strip() for s in scopes.split(",") if s.strip()),
            sources=config.sources,
        )
    try:
        enforcer = Enforcer(
            config.policy_csv,
            builtin_policy=BUILTIN_POLICY_CSV if _truthy(use_builtin_policy, "--use-builtin-policy") else "",
            default_role=default_role or config.default_role,
            match_mode=config.match_mode,
            scopes=config.scopes,
        )
    except PolicyError as exc:
        raise _fail(f"invalid user policy: {exc}") from exc
    real_resource = resolve_resource_name(resource)
    if _truthy(strict, "--strict"):
        _validate_request(real_resource, action)
    obj = sub_resource
    if real_resource in CLI_PROJECT_SCOPED_RESOURCES and obj in ("", "*"):
        obj = "*/*"
    if groups:
        claims: dict[str, Any] = {"sub": subject}
        for scope in enforcer.scopes[:1]:
            claims[scope] = list(groups)
        allowed = enforcer.enforce_claims(claims, real_resource, action, obj)
    else:
        allowed = enforcer.enforce(subject, real_resource, action, obj)
    if not quiet:
        print("Yes" if allowed else "No")
    raise typer.Exit(0 if allowed else 1)


@rbac.command("validate")
def validate(
    *,
    policy_file: Annotated[Path, PolicyFileOption],
    match_mode: Annotated[
        str, typer.Option("--match-mode", help="glob or regex, for a plain CSV file (default glob).")
    ] = "",
    no_builtin: Annotated[
        bool, typer.Option("--no-builtin", help="Do not count the built-in roles as defined.")
    ] = False,
    min_severity: Annotated[
        str, typer.Option("--min-severity", help="Show findings from: info, warning or error.")
    ] = "info",
) -> None:
    """Lint a policy; print findings and exit 1 if any is an error (Argo CD would reject or ignore it)."""
    data, text = _load(policy_file)
    if data is not None:
        findings = lint_rbac_config(data, include_builtin=not no_builtin)
    else:
        findings = lint_policy(text, match_mode=match_mode or "glob", include_builtin=not no_builtin)
    ranks = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}
    try:
        floor = ranks[Severity(min_severity)]
    except ValueError as exc:
        raise _fail(f"--min-severity: expected info, warning or error, got {min_severity!r}") from exc
    for finding in findings:
        if ranks[finding.severity] >= floor:
            print(f"{policy_file}:{finding}")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = sum(f.severity is Severity.WARNING for f in findings)
    if errors:
        print(f"Policy is invalid: {errors} error(s), {warnings} warning(s).")
        raise typer.Exit(1)
    print(f"Policy is valid ({warnings} warning(s)).")
