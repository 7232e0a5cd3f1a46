"""``argosy admin notifications``: like ``argocd admin notifications``, on local files.

* ``template notify NAME APP_YAML``: render template NAME for the Application and send it to each
  ``--recipient service:recipient``; the default recipient ``console:stdout`` prints the rendered
  message and per-service fields instead of sending.
* ``trigger run NAME APP_YAML``: evaluate trigger NAME's conditions and print each one's result.
* ``lint``: core.notify's linter over the ConfigMap (exit 1 if a finding is an error).

The configuration comes from ``--config-map FILE`` (an ``argocd-notifications-cm`` manifest or a
plain mapping of its data); secrets from ``--secret FILE`` (an ``argocd-notifications-secret``
manifest with ``data`` or ``stringData``, or a plain mapping). Exit codes: 0 ok, 1 a failed
send, trigger error or lint error, 20 bad input.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from argosy.adapters.kube import KubeClient
from argosy.adapters.kube.config import KubeConfigError
from argosy.adapters.kube.errors import KubeError
from argosy.adapters.notifiers import Notifiers
from argosy.cli.groups import admin
from argosy.core.notify import (
    NotificationsConfig,
    Severity,
    evaluate_trigger,
    lint_notifications_data,
    parse_config,
    parse_destination,
    render_templates,
    resolve_settings,
    with_argosy_defaults,
)
from argosy.ports.notify import DeliveryError, DeliveryTarget

notifications = typer.Typer(
    help="Try and check notifications (argocd-notifications-cm).", no_args_is_help=True
)
template_cmd = typer.Typer(help="Render and send notification templates.", no_args_is_help=True)
trigger_cmd = typer.Typer(help="Evaluate notification triggers.", no_args_is_help=True)
admin.add_typer(notifications, name="notifications")
notifications.add_typer(template_cmd, name="template")
notifications.add_typer(trigger_cmd, name="trigger")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
EXIT_FAILED = 1
EXIT_ERROR = 20

ConfigMapOption = Annotated[
    Path | None,
    typer.Option(
        "--config-map",
        help="argocd-notifications-cm: a ConfigMap manifest or its data (YAML); default: from the cluster.",
    ),
]
KubeconfigOption = Annotated[
    str | None, typer.Option("--kubeconfig", help="Kubeconfig for live objects (default: $KUBECONFIG).")
]
NamespaceOption = Annotated[str, typer.Option("--namespace", "-N", help="Namespace of Argosy's objects.")]
AppArgument = Annotated[
    str,
    typer.Argument(metavar="APP", help="An Application manifest file, or the name of a live Application."),
]
SecretOption = Annotated[
    Path | None,
    typer.Option("--secret", help="argocd-notifications-secret: a Secret manifest or its data (YAML)."),
]
NowOption = Annotated[
    str | None, typer.Option("--now", help="The time to evaluate at (RFC 3339); default: now.")
]


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False)
    return typer.Exit(EXIT_ERROR)


def _read_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"cannot read {what} {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise _fail(f"{what} {path} is not YAML: {exc}") from exc


def _live_object(kubeconfig: str | None, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """One object from the cluster (Application, ConfigMap or Secret) in ``namespace``."""
    api_version = "argoproj.io/v1alpha1" if kind == "Application" else "v1"

    async def fetch() -> dict[str, Any]:
        async with KubeClient.from_kubeconfig(kubeconfig) as kube:
            return await kube.get(api_version, kind, name, namespace)

    try:
        return asyncio.run(fetch())
    except (KubeError, KubeConfigError, OSError) as exc:
        raise _fail(f"cannot read {kind} {namespace}/{name} from the cluster: {exc}") from exc


def _config_map_data(doc: Any, where: str) -> dict[str, str]:
    if isinstance(doc, Mapping) and doc.get("kind") == "ConfigMap":
        doc = doc.get("data") or {}
    if not isinstance(doc, Mapping):
        raise _fail(f"{where}: expected a ConfigMap or a mapping of its data")
    return {str(k): v if isinstance(v, str) else yaml.safe_dump(v) for k, v in doc.items()}


def load_config_map(path: Path) -> dict[str, str]:
    return _config_map_data(_read_yaml(path, "config map"), str(path))


def load_secrets(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    return _secret_values(_read_yaml(path, "secret"), str(path))


def _secret_values(doc: Any, where: str) -> dict[str, str]:
    if not isinstance(doc, Mapping):
        raise _fail(f"{where}: expected a Secret or a mapping")
    if doc.get("kind") != "Secret":
        return {str(k): str(v) for k, v in doc.items()}
    values: dict[str, str] = {}
    for key, value in (doc.get("data") or {}).items():
        try:
            values[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _fail(f"{where}: data.{key} is not base64 of UTF-8 text") from exc
    values.update({str(k): str(v) for k, v in (doc.get("stringData") or {}).items()})
    return values


def load_app(path: Path) -> dict[str, Any]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise _fail(f"cannot read application {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise _fail(f"application {path} is not YAML: {exc}") from exc
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind", "Application") == "Application":
            return doc
    raise _fail(f"{path}: no Application in the file")


@dataclass(frozen=True)
class _Inputs:
    """The configuration and the Application, from files or, as ``argocd admin notifications``
    does, from the cluster."""

    config: NotificationsConfig
    app: dict[str, Any]
    secrets: dict[str, str]


def _inputs(
    app: str, config_map: Path | None, secret: Path | None, kubeconfig: str | None, namespace: str
) -> _Inputs:
    app_path = Path(app)
    live = not app_path.is_file()
    application = _live_object(kubeconfig, namespace, "Application", app) if live else load_app(app_path)
    if config_map is not None:
        data = load_config_map(config_map)
    else:
        data = _config_map_data(
            _live_object(kubeconfig, namespace, "ConfigMap", "argocd-notifications-cm"),
            f"{namespace}/argocd-notifications-cm",
        )
    if secret is not None:
        secrets = load_secrets(secret)
    elif config_map is None:
        secrets = _secret_values(
            _live_object(kubeconfig, namespace, "Secret", "argocd-notifications-secret"),
            f"{namespace}/argocd-notifications-secret",
        )
    else:
        secrets = {}
    config = parse_config(with_argosy_defaults(data))
    for error in config.errors:
        err.print(f"warning: {error}", markup=False)
    return _Inputs(config=config, app=application, secrets=secrets)


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--now: not an RFC 3339 time: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@template_cmd.command("notify")
def template_notify(  # noqa: PLR0917  (typer arguments and options)
    name: Annotated[str, typer.Argument(help="Template name (template.<name>).")],
    app_ref: AppArgument,
    config_map: ConfigMapOption = None,
    secret: SecretOption = None,
    kubeconfig: KubeconfigOption = None,
    namespace: NamespaceOption = "argocd",
    recipient: Annotated[
        list[str] | None,
        typer.Option("--recipient", help="service:recipient (repeatable); default console:stdout prints it."),
    ] = None,
    now: NowOption = None,
) -> None:
    """Render a template for an Application and send it (or print it)."""
    inputs = _inputs(app_ref, config_map, secret, kubeconfig, namespace)
    config, secrets, app = inputs.config, inputs.secrets, inputs.app
    at = _now(now)
    if name not in config.templates:
        raise _fail(
            f"template {name!r} is not defined (known: {', '.join(sorted(config.templates)) or 'none'})"
        )
    failed = False
    for raw in recipient or ["console:stdout"]:
        dest = parse_destination(raw)
        if dest.service == "console":
            rendered = render_templates(config, [name], app, now=at, secrets=secrets)
            for error in rendered.errors:
                err.print(f"warning: {error}", markup=False)
            out.print(
                yaml.safe_dump(rendered.body, sort_keys=False, allow_unicode=True).rstrip(), markup=False
            )
            continue
        service = config.services.get(dest.service)
        if service is None:
            raise _fail(f"service {dest.service!r} is not configured")
        rendered = render_templates(
            config, [name], app, now=at, service_type=service.type, recipient=dest.recipient, secrets=secrets
        )
        for error in rendered.errors:
            err.print(f"warning: {error}", markup=False)
        settings = resolve_settings(service, secrets)
        if settings.unresolved:
            err.print(
                f"warning: {dest.service}: secret keys missing: {', '.join(settings.unresolved)}",
                markup=False,
            )
        target = DeliveryTarget(service.name, service.type, dest.recipient, settings.values)
        try:
            asyncio.run(_send(target, rendered.body))
        except DeliveryError as exc:
            err.print(f"error: {raw}: {exc}", markup=False)
            failed = True
            continue
        out.print(f"sent to {raw}", markup=False)
    if failed:
        raise typer.Exit(EXIT_FAILED)


async def _send(target: DeliveryTarget, body: Mapping[str, Any]) -> None:
    async with Notifiers() as senders:
        await senders.send(target, body)


@trigger_cmd.command("run")
def trigger_run(  # noqa: PLR0917  (typer arguments and options)
    name: Annotated[str, typer.Argument(help="Trigger name (trigger.<name>).")],
    app_ref: AppArgument,
    config_map: ConfigMapOption = None,
    kubeconfig: KubeconfigOption = None,
    namespace: NamespaceOption = "argocd",
    now: NowOption = None,
) -> None:
    """Evaluate a trigger's conditions against an Application (a file or a live one)."""
    inputs = _inputs(app_ref, config_map, None, kubeconfig, namespace)
    config, app = inputs.config, inputs.app
    trigger = config.triggers.get(name)
    if trigger is None:
        raise _fail(
            f"trigger {name!r} is not defined (known: {', '.join(sorted(config.triggers)) or 'none'})"
        )
    results = evaluate_trigger(trigger, app, now=_now(now))
    width = max([len("CONDITION"), *(len(c.when) for c in trigger.conditions)])
    out.print(f"{'CONDITION':<{width}}  RESULT", markup=False)
    errors = False
    for condition, result in zip(trigger.conditions, results, strict=True):
        text = "true" if result.triggered else "false"
        if result.error:
            text = f"error: {result.error}"
            errors = True
        out.print(f"{condition.when:<{width}}  {text}", markup=False)
    if errors:
        raise typer.Exit(EXIT_FAILED)


@notifications.command("lint")
def lint(
    config_map: Annotated[
        Path, typer.Option("--config-map", help="argocd-notifications-cm: a ConfigMap manifest or its data.")
    ],
    secret: SecretOption = None,
) -> None:
    """Check argocd-notifications-cm: parse errors, pitfalls, undefined names, missing secrets."""
    data = load_config_map(config_map)
    findings = lint_notifications_data(data, secrets=load_secrets(secret) if secret is not None else None)
    for finding in findings:
        out.print(str(finding), markup=False)
    if not findings:
        out.print("no problems found", markup=False)
    if any(f.severity is Severity.ERROR for f in findings):
        raise typer.Exit(EXIT_FAILED)
