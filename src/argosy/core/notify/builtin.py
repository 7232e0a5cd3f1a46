"""Argosy's own triggers and templates, beside Argo CD's catalog: drift, self-heal, rollback.

Layer 1 (``argosy.core``), pure; standard library only. The data is ConfigMap text
(``trigger.<name>``/``template.<name>`` keys) so it merges with ``argocd-notifications-cm`` data;
user keys win. The status fields they read are documented in ``docs/notifications.md``:

* ``app.status.argosy.drift``: ``{detected, detectedAt, revision, count, resources: [{group,
  kind, namespace, name, fields: [..], managers: [..]}]}``
* ``app.status.argosy.selfHeal``: ``{lastHealedAt, revision, count, resources: [..]}``
* ``app.status.argosy.rollback``: ``{phase, startedAt, finishedAt, fromRevision, toRevision,
  reason, message}``
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ARGOSY_NOTIFICATIONS_DATA", "with_argosy_defaults"]

_SLACK_FIELDS = """\
[{
  "title": {{ .app.metadata.name | toJson }},
  "title_link": {{ printf "%s/applications/%s" .context.argocdUrl .app.metadata.name | toJson }},
  "color": "COLOR",
  "fields": [FIELDS]
}]
"""


def _slack(color: str, fields: str) -> str:
    return _SLACK_FIELDS.replace("COLOR", color).replace("FIELDS", fields)


_RAW_DATA: Mapping[str, str] = {
    "trigger.on-drift-detected": """\
- description: Live state drifted from Git (changed in the cluster, not by a new commit).
  when: app.status.argosy?.drift?.detected == true
  oncePer: app.status.argosy?.drift?.detectedAt
  send: [app-drift-detected]
""",
    "trigger.on-self-healed": """\
- description: Argosy reverted live drift back to the Git state (selfHeal).
  when: app.status.argosy?.selfHeal?.lastHealedAt != nil
  oncePer: app.status.argosy?.selfHeal?.lastHealedAt
  send: [app-self-healed]
""",
    "trigger.on-rollback": """\
- description: An automated or manual rollback finished (Succeeded or Failed).
  when: app.status.argosy?.rollback?.phase in ['Succeeded', 'Failed']
  oncePer: app.status.argosy?.rollback?.startedAt
  send: [app-rollback]
""",
    "template.app-drift-detected": """\
message: |
  {{if eq .serviceType "slack"}}:warning:{{end}} Application {{.app.metadata.name}} drifted from Git: \
{{.app.status.argosy.drift.count}} resource(s) changed in the cluster since revision \
{{.app.status.argosy.drift.revision}}.
  {{range $r := .app.status.argosy.drift.resources}}- {{$r.kind}} {{if $r.namespace}}{{$r.namespace}}/{{end}}\
{{$r.name}}{{if $r.managers}} (changed by {{join ", " $r.managers}}){{end}}
  {{end}}Details: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}
email:
  subject: Application {{.app.metadata.name}} drifted from Git.
slack:
  attachments: |
    SLACK_DRIFT
""",
    "template.app-self-healed": """\
message: |
  {{if eq .serviceType "slack"}}:recycle:{{end}} Application {{.app.metadata.name}} was self-healed \
at {{.app.status.argosy.selfHeal.lastHealedAt}}: live drift reverted to revision \
{{.app.status.argosy.selfHeal.revision}} ({{.app.status.argosy.selfHeal.count}} resource(s)).
  Details: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}
email:
  subject: Application {{.app.metadata.name}} was self-healed.
slack:
  attachments: |
    SLACK_HEAL
""",
    "template.app-rollback": """\
message: |
  {{if eq .serviceType "slack"}}:rewind:{{end}} Rollback of application {{.app.metadata.name}} \
{{.app.status.argosy.rollback.phase}}: {{.app.status.argosy.rollback.fromRevision}} -> \
{{.app.status.argosy.rollback.toRevision}}.
  Reason: {{.app.status.argosy.rollback.reason}}
  {{with .app.status.argosy.rollback.message}}{{.}}
  {{end}}Details: {{.context.argocdUrl}}/applications/{{.app.metadata.name}}
email:
  subject: Rollback of application {{.app.metadata.name}} {{.app.status.argosy.rollback.phase}}.
slack:
  attachments: |
    SLACK_ROLLBACK
""",
}


def _indent(text: str) -> str:
    return text.rstrip("\n").replace("\n", "\n    ")


_FIELD = '{{"title": "{title}", "value": {{{{ {expr} | toJson }}}}, "short": {short}}}'


def _fields(*items: tuple[str, str, bool]) -> str:
    return ", ".join(_FIELD.format(title=t, expr=e, short="true" if s else "false") for t, e, s in items)


_SLACK = {
    "SLACK_DRIFT": _slack(
        "#f4c030",
        _fields(
            ("Revision", "toString .app.status.argosy.drift.revision", True),
            ("Resources", "toString .app.status.argosy.drift.count", True),
            ("Detected at", "toString .app.status.argosy.drift.detectedAt", True),
        ),
    ),
    "SLACK_HEAL": _slack(
        "#18be52",
        _fields(
            ("Revision", "toString .app.status.argosy.selfHeal.revision", True),
            ("Resources", "toString .app.status.argosy.selfHeal.count", True),
        ),
    ),
    "SLACK_ROLLBACK": _slack(
        "#E96D76",
        _fields(
            ("Phase", "toString .app.status.argosy.rollback.phase", True),
            ("From", "toString .app.status.argosy.rollback.fromRevision", True),
            ("To", "toString .app.status.argosy.rollback.toRevision", True),
            ("Reason", "toString .app.status.argosy.rollback.reason", False),
        ),
    ),
}


def _expand(value: str) -> str:
    for placeholder, text in _SLACK.items():
        value = value.replace(placeholder, _indent(text))
    return value


ARGOSY_NOTIFICATIONS_DATA = {key: _expand(value) for key, value in _RAW_DATA.items()}


def with_argosy_defaults(data: Mapping[str, str]) -> dict[str, str]:
    """ConfigMap data plus Argosy's triggers/templates for every key the user did not set."""
    merged = dict(ARGOSY_NOTIFICATIONS_DATA)
    merged.update(data)
    return merged
