"""Render notification templates: Go ``text/template`` + sprig through the ``gotpl`` package.

Layer 1 (``argosy.core``), pure; standard library, ``gotpl`` and sibling modules. The sprig map is
Argo CD's (``TxtFuncMap`` minus ``env``/``expandenv``) with two purity changes: ``getHostByName``
(a DNS lookup) is removed, and the clock-reading functions (``now``, ``ago``, ``date`` on a missing
time...) read the ``now`` the caller passes.

Variables: ``.app``, ``.appProject``, ``.context``, ``.secrets``, ``.serviceType``, ``.recipient``
and the helpers ``.time``, ``.strings``, ``.repo``, ``.sync`` (dicts of callables, used as
``{{call .repo.RepoURLToHTTPS .app.spec.source.repoURL}}``). Missing keys render ``<no value>``.

Every string leaf of a template body (``message``, ``email.subject``, ``slack.attachments``,
``webhook.<name>.body``, ``teams.facts``...) is a template; non-string leaves (booleans such as
``slack.notifyBroadcast``) are copied. Several templates sent together are merged in order, later
ones overriding earlier ones, like notifications-engine's ``Send``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import gotpl
from gotpl.funcs.sprig.registry import text_func_map

from argosy.core.notify.config import NotificationsConfig, NotificationTemplate
from argosy.core.notify.helpers import RepoData, template_helpers

__all__ = [
    "REMOVED_SPRIG_FUNCTIONS",
    "RenderResult",
    "render_body",
    "render_string",
    "render_templates",
    "template_environment",
    "template_vars",
]

REMOVED_SPRIG_FUNCTIONS = frozenset({"env", "expandenv", "getHostByName"})


@dataclass(frozen=True, slots=True)
class RenderResult:
    """Rendered fields (same shape as the template body) and the errors met on the way."""

    body: dict[str, Any]
    errors: tuple[str, ...] = ()
    template_names: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str | None:
        value = self.body.get("message")
        return value if isinstance(value, str) else None


def _no_resolver(host: str) -> list[str]:
    raise RuntimeError(f"getHostByName({host!r}) is not available in notification templates")


def template_environment(now: datetime) -> gotpl.Environment:
    """The Go-template environment with Argo CD's sprig functions, clock fixed at ``now``."""
    functions: dict[str, Callable[..., object]] = {
        name: fn
        for name, fn in text_func_map(clock=lambda: now, environ={}, resolver=_no_resolver).items()
        if name not in REMOVED_SPRIG_FUNCTIONS
    }
    return gotpl.Environment(functions=functions)


def template_vars(
    app: Mapping[str, Any],
    *,
    now: datetime,
    context: Mapping[str, Any] | None = None,
    service_type: str = "",
    recipient: str = "",
    project: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    repo: RepoData | None = None,
) -> dict[str, Any]:
    """The data a template sees (Argo CD's names)."""
    data: dict[str, Any] = {
        "app": app,
        "context": dict(context or {}),
        "serviceType": service_type,
        "recipient": recipient,
        "secrets": dict(secrets or {}),
    }
    if project is not None:
        data["appProject"] = project
    data.update(template_helpers(now=now, repo=repo))
    return data


def render_string(env: gotpl.Environment, source: str, data: Mapping[str, Any], *, name: str) -> str:
    """Render one template string; raises ``gotpl.TemplateError`` on syntax/execution errors."""
    return env.from_string(source, name=name).render(dict(data))


def _render_value(
    env: gotpl.Environment, value: Any, data: Mapping[str, Any], path: str, errors: list[str]
) -> Any:
    if isinstance(value, str):
        if "{{" not in value:
            return value
        try:
            return render_string(env, value, data, name=path)
        except gotpl.TemplateError as exc:
            errors.append(f"{path}: {' '.join(str(exc).split())}")
            return None
        except Exception as exc:  # a helper raised (e.g. missing commit metadata)
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
            return None
    if isinstance(value, Mapping):
        return {k: _render_value(env, v, data, f"{path}.{k}", errors) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_value(env, v, data, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    return value


def render_body(template: NotificationTemplate, data: Mapping[str, Any], *, now: datetime) -> RenderResult:
    """Render every string leaf of one template."""
    env = template_environment(now)
    errors: list[str] = []
    body = _render_value(env, template.body, data, template.name, errors)
    return RenderResult(body, tuple(errors), (template.name,))


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def render_templates(
    config: NotificationsConfig,
    names: Sequence[str],
    app: Mapping[str, Any],
    *,
    now: datetime,
    service_type: str = "",
    recipient: str = "",
    project: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    repo: RepoData | None = None,
) -> RenderResult:
    """Render the templates of one notification (``Notification.templates``) and merge them."""
    data = template_vars(
        app,
        now=now,
        context=config.context,
        service_type=service_type,
        recipient=recipient,
        project=project,
        secrets=secrets,
        repo=repo,
    )
    env = template_environment(now)
    merged: dict[str, Any] = {}
    errors: list[str] = []
    for name in names:
        template = config.templates.get(name)
        if template is None:
            errors.append(f"template {name!r} is not defined")
            continue
        _merge(merged, _render_value(env, template.body, data, name, errors))
    return RenderResult(merged, tuple(errors), tuple(names))
