"""Argo CD-compatible notifications core: configuration, triggers, templates, de-duplication, lint.

Layer 1 (``argosy.core``): pure. May import the standard library, ``argosy.model``, sibling
``argosy.core`` modules, PyYAML (on strings in memory) and ``gotpl`` (Go text/template + sprig,
with the DNS and environment functions removed and the clock injected). No files, sockets,
subprocesses, asyncio or wall clock: callers pass ``now``, the ConfigMap data, the secret values,
the de-duplication state and any commit metadata in, and persist/send what comes out.

Typical use by the notifier service::

    config = parse_config(with_argosy_defaults(cm_data))
    evaluation = evaluate_app(config, app, now=now, state=state_from_annotation(notified))
    for n in evaluation.notifications:
        rendered = render_templates(config, n.templates, app, now=now,
                                    service_type=n.service_type, recipient=n.recipient)
        ...send, then state = mark_sent(evaluation.state, n.dedupe_key, now=now)

See ``docs/notifications.md``.
"""

from __future__ import annotations

from argosy.core.notify.builtin import ARGOSY_NOTIFICATIONS_DATA, with_argosy_defaults
from argosy.core.notify.config import (
    ANNOTATION_PREFIX,
    SUBSCRIPTIONS_ANNOTATION,
    Condition,
    ConfigError,
    Destination,
    LabelSelector,
    NotificationsConfig,
    NotificationTemplate,
    ResolvedSettings,
    Service,
    Subscription,
    Trigger,
    annotation_subscriptions,
    parse_config,
    parse_destination,
    parse_label_selector,
    parse_template,
    parse_trigger,
    resolve_settings,
    secret_references,
)
from argosy.core.notify.expr import Expr, ExprError, compile_expr, go_format_value
from argosy.core.notify.gotime import Duration, GoTime, TimeHelpers, parse_rfc3339
from argosy.core.notify.helpers import (
    RepoData,
    RepoHelpers,
    StringsHelpers,
    SyncHelpers,
    expr_env,
    full_name_by_repo_url,
    repo_url_to_https,
    template_helpers,
)
from argosy.core.notify.lint import Finding, Severity, lint_config, lint_notifications_data
from argosy.core.notify.templates import (
    REMOVED_SPRIG_FUNCTIONS,
    RenderResult,
    render_body,
    render_templates,
    template_environment,
    template_vars,
)
from argosy.core.notify.triggers import (
    MAX_STATE_ENTRIES,
    NOTIFIED_ANNOTATION,
    ConditionResult,
    Evaluation,
    Notification,
    condition_key,
    evaluate_app,
    evaluate_trigger,
    mark_sent,
    state_from_annotation,
    state_to_annotation,
    subscribed_destinations,
    unmark,
)

__all__ = [
    "ANNOTATION_PREFIX",
    "ARGOSY_NOTIFICATIONS_DATA",
    "MAX_STATE_ENTRIES",
    "NOTIFIED_ANNOTATION",
    "REMOVED_SPRIG_FUNCTIONS",
    "SUBSCRIPTIONS_ANNOTATION",
    "Condition",
    "ConditionResult",
    "ConfigError",
    "Destination",
    "Duration",
    "Evaluation",
    "Expr",
    "ExprError",
    "Finding",
    "GoTime",
    "LabelSelector",
    "Notification",
    "NotificationTemplate",
    "NotificationsConfig",
    "RenderResult",
    "RepoData",
    "RepoHelpers",
    "ResolvedSettings",
    "Service",
    "Severity",
    "StringsHelpers",
    "Subscription",
    "SyncHelpers",
    "TimeHelpers",
    "Trigger",
    "annotation_subscriptions",
    "compile_expr",
    "condition_key",
    "evaluate_app",
    "evaluate_trigger",
    "expr_env",
    "full_name_by_repo_url",
    "go_format_value",
    "lint_config",
    "lint_notifications_data",
    "mark_sent",
    "parse_config",
    "parse_destination",
    "parse_label_selector",
    "parse_rfc3339",
    "parse_template",
    "parse_trigger",
    "render_body",
    "render_templates",
    "repo_url_to_https",
    "resolve_settings",
    "secret_references",
    "state_from_annotation",
    "state_to_annotation",
    "subscribed_destinations",
    "template_environment",
    "template_helpers",
    "template_vars",
    "unmark",
    "with_argosy_defaults",
]
