"""A linter for Argo CD RBAC policies: find lines that silently do nothing or more than they seem.

Layer 1 (``argosy.core``), pure; standard library, ``wcmatch`` and sibling modules only.
Every rule is documented in ``docs/rbac.md`` under its code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from argosy.core.rbac.enforcer import Enforcer, glob_match
from argosy.core.rbac.policy import (
    MATCH_MODE_KEY,
    POLICY_CSV_KEY,
    POLICY_DEFAULT_KEY,
    MatchMode,
    PolicyError,
    RbacConfig,
    iter_policy_lines,
    parse_csv_line,
    parse_policy,
)
from argosy.core.rbac.vocabulary import (
    APPLICATIONS,
    BUILTIN_POLICY_CSV,
    CLUSTERS,
    PROJECT_SCOPED_RESOURCES,
    REPOSITORIES,
    RESOURCE_ACTIONS,
)

__all__ = ["Finding", "Severity", "lint_policy", "lint_rbac_config"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem on one line (1-based within ``source``, 0 for the whole file)."""

    line: int
    severity: Severity
    code: str
    message: str
    source: str = POLICY_CSV_KEY

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.severity.value}: {self.code} {self.message}"


@dataclass(frozen=True, slots=True)
class _Line:
    source: str
    line: int
    ptype: str
    fields: tuple[str, ...]


_INLINE_COMMENT = re.compile(r"\s#")
_GLOB_CHARS = frozenset("*?[{")
_EFFECTS = ("allow", "deny")
# Resources whose object names never contain "/" (so "*/*" or "a/b" never match them).
_FLAT_NAMED = frozenset({"projects", "accounts", "certificates", "gpgkeys"})
_FINE_GRAINED_SEGMENTS = {"action": 4, "update": 5, "delete": 5}
_SAMPLE_SUFFIXES = {
    "action": "action/apps/Deployment/restart",
    "update": "update/apps/Deployment/default/web",
    "delete": "delete/apps/Deployment/default/web",
}


def _has_glob(text: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in text)


def _sample_actions(resource: str) -> list[str]:
    actions = sorted(RESOURCE_ACTIONS.get(resource, ()))
    if resource == APPLICATIONS:
        actions += list(_SAMPLE_SUFFIXES.values())
    return actions


def _pattern_matches(value: str, pattern: str, mode: MatchMode) -> bool:
    if mode is MatchMode.REGEX:
        try:
            return re.search(pattern, value) is not None
        except re.error:
            return False
    return glob_match(value, pattern)


class _Linter:
    def __init__(self, mode: MatchMode) -> None:
        self.mode = mode
        self.findings: list[Finding] = []

    def add(self, where: _Line | tuple[str, int], severity: Severity, code: str, message: str) -> None:
        source, line = (where.source, where.line) if isinstance(where, _Line) else where
        self.findings.append(Finding(line, severity, code, message, source))

    # -- per line ---------------------------------------------------------------------------

    def parse(self, source: str, text: str) -> list[_Line]:
        lines: list[_Line] = []
        for number, raw in iter_policy_lines(text):
            where = (source, number)
            try:
                tokens = parse_csv_line(raw)
            except ValueError as exc:
                self.add(
                    where,
                    Severity.ERROR,
                    "RBAC001",
                    f"CSV syntax error ({exc}); Argo CD rejects the whole policy",
                )
                continue
            key = tokens[0]
            if key not in ("p", "g"):
                self.add(
                    where,
                    Severity.ERROR,
                    "RBAC003",
                    f"unknown line type {key!r} (only p and g exist); Argo CD rejects the whole policy",
                )
                continue
            want = 6 if key == "p" else 3
            if len(tokens) != want:
                shape = "p, subject, resource, action, object, effect" if key == "p" else "g, member, role"
                hint = " (an unquoted comma inside a field?)" if len(tokens) > want else ""
                self.add(
                    where,
                    Severity.ERROR,
                    "RBAC002",
                    f"{key} line has {len(tokens)} fields, needs {want} ({shape}){hint}; "
                    "Argo CD rejects the whole policy",
                )
                continue
            lines.append(_Line(source, number, key, tuple(tokens[1:])))
        return lines

    def check_line(self, line: _Line) -> None:
        commented = [i for i, value in enumerate(line.fields) if _INLINE_COMMENT.search(value)]
        for index in commented:
            value = line.fields[index]
            if line.ptype == "p" and index == 4:
                self.add(
                    line,
                    Severity.ERROR,
                    "RBAC004",
                    f"inline comment: the effect field is {value!r}, which is neither 'allow' nor 'deny', "
                    "so casbin counts this rule as indeterminate and it never allows or denies anything "
                    f"(this {value.split()[0]!r} rule is silently ignored). Only lines that start with # are "
                    "comments; move the comment to its own line",
                )
            else:
                self.add(
                    line,
                    Severity.ERROR,
                    "RBAC004",
                    f"inline comment: field {index + 2} is {value!r} (only lines that start with # are "
                    "comments), so it never matches what was meant; move the comment to its own line",
                )
        if line.ptype == "g":
            for value in line.fields:
                if _has_glob(value):
                    self.add(
                        line,
                        Severity.WARNING,
                        "RBAC040",
                        f"{value!r}: g lines are matched literally, not as patterns",
                    )
            return
        subject, resource, action, obj, effect = line.fields
        if effect not in _EFFECTS and 4 not in commented:
            self.add(
                line,
                Severity.ERROR,
                "RBAC010",
                f"effect {effect!r} is neither 'allow' nor 'deny' (case-sensitive); "
                "the rule is silently ignored",
            )
        if _has_glob(subject):
            self.add(
                line,
                Severity.WARNING,
                "RBAC040",
                f"subject {subject!r} is compared literally (or through g roles), never as a pattern",
            )
        for name, value in (("resource", resource), ("action", action), ("object", obj)):
            self.check_pattern(line, name, value)
        self.check_resource_action(line, resource, action)
        self.check_object(line, resource, obj)

    def check_pattern(self, line: _Line, name: str, value: str) -> None:
        if value == "":
            if self.mode is MatchMode.REGEX:
                self.add(
                    line, Severity.WARNING, "RBAC023", f"empty {name}: an empty regex matches everything"
                )
            else:
                self.add(line, Severity.WARNING, "RBAC023", f"empty {name}: never matches")
            return
        if self.mode is MatchMode.REGEX:
            try:
                re.compile(value)
            except re.error as exc:
                self.add(
                    line,
                    Severity.ERROR,
                    "RBAC060",
                    f"{name} {value!r} is not a valid regex ({exc}); every request that reaches this line "
                    "errors and is denied",
                )
        elif value.count("[") != value.count("]") or value.count("{") != value.count("}"):
            self.add(
                line, Severity.WARNING, "RBAC060", f"{name} {value!r} is not a valid glob; it never matches"
            )

    def check_resource_action(self, line: _Line, resource: str, action: str) -> None:
        known = list(RESOURCE_ACTIONS)
        if (self.mode is MatchMode.GLOB and not _has_glob(resource)) or (
            self.mode is MatchMode.REGEX and resource.isalnum()
        ):
            resources = [resource] if resource in RESOURCE_ACTIONS else []
        else:
            resources = [r for r in known if _pattern_matches(r, resource, self.mode)]
        if not resources:
            self.add(
                line,
                Severity.WARNING,
                "RBAC020",
                f"resource {resource!r} matches none of Argo CD's resources ({', '.join(known)}); "
                "the rule never applies",
            )
            return
        if len(resources) != 1 or (_has_glob(resource) and self.mode is MatchMode.GLOB):
            samples = {a for r in resources for a in _sample_actions(r)}
            if not any(_pattern_matches(a, action, self.mode) for a in samples):
                self.add(
                    line, Severity.WARNING, "RBAC021", f"action {action!r} matches no action of {resource!r}"
                )
            return
        (res,) = resources
        if self.mode is MatchMode.REGEX or _has_glob(action):
            verb = action.split("/", 1)[0]
            literal_verb = (
                self.mode is MatchMode.GLOB and not _has_glob(verb) and verb in RESOURCE_ACTIONS[res]
            )
            if not literal_verb and not any(
                _pattern_matches(a, action, self.mode) for a in _sample_actions(res)
            ):
                self.add(line, Severity.WARNING, "RBAC021", f"action {action!r} matches no action of {res!r}")
            elif self.mode is MatchMode.GLOB:
                self.check_fine_grained_glob(line, action)
            return
        verb, slash, _rest = action.partition("/")
        valid = sorted(RESOURCE_ACTIONS[res])
        if verb not in RESOURCE_ACTIONS[res] or (
            slash and (res != APPLICATIONS or verb not in _FINE_GRAINED_SEGMENTS)
        ):
            self.add(
                line,
                Severity.WARNING,
                "RBAC021",
                f"action {action!r} is not an action of {res!r} (valid: {', '.join(valid)}); "
                "the rule never applies",
            )
            return
        if res == APPLICATIONS and verb == "action" and not slash:
            self.add(
                line,
                Severity.WARNING,
                "RBAC022",
                "plain 'action' never matches: resource actions are checked as action/<group>/<kind>/<name> "
                "(use action/* for all)",
            )
        elif slash:
            want = _FINE_GRAINED_SEGMENTS[verb]
            if len(action.split("/")) != want:
                shape = (
                    "action/<group>/<kind>/<name>"
                    if verb == "action"
                    else f"{verb}/<group>/<kind>/<ns>/<name>"
                )
                self.add(
                    line,
                    Severity.WARNING,
                    "RBAC022",
                    f"action {action!r} does not have the form {shape} (core group is empty, e.g. "
                    "action//Pod/restart); it never matches",
                )

    def check_fine_grained_glob(self, line: _Line, action: str) -> None:
        verb, slash, rest = action.partition("/")
        if not slash or verb not in ("update", "delete") or "*" not in rest:
            return
        want = _FINE_GRAINED_SEGMENTS[verb]
        segments = len(action.split("/"))
        if 2 < segments < want:
            self.add(
                line,
                Severity.WARNING,
                "RBAC032",
                f"action {action!r}: '*' crosses '/', so this also matches resources whose group, kind, "
                f"namespace or name merely contain the literal parts; write all {want - 1} segments "
                f"({verb}/<group>/<kind>/<ns>/<name>)",
            )

    def check_object(self, line: _Line, resource: str, obj: str) -> None:
        if self.mode is not MatchMode.GLOB or obj == "":
            return
        if resource in PROJECT_SCOPED_RESOURCES:
            project, slash, _name = obj.partition("/")
            if obj == "*":
                self.add(
                    line,
                    Severity.INFO,
                    "RBAC030",
                    f"object '*' for {resource} covers every project ('*' crosses '/', same as '*/*'); "
                    "write '*/*' to make that explicit",
                )
            elif not slash and "*" not in obj:
                self.add(
                    line,
                    Severity.WARNING,
                    "RBAC031",
                    f"object {obj!r} never matches: {resource} objects are <project>/<name>",
                )
            elif not slash:
                self.add(
                    line,
                    Severity.WARNING,
                    "RBAC030",
                    f"object {obj!r} is broader than it looks: '*' crosses '/', so it matches every "
                    f"<project>/<name> that starts with {obj.split('*', maxsplit=1)[0]!r}, in any project "
                    "whose name starts that way; write '<project>/*'",
                )
            elif "*" in project and project != "*":
                self.add(
                    line,
                    Severity.INFO,
                    "RBAC030",
                    f"object {obj!r}: the project part {project!r} is a pattern and matches several projects",
                )
        elif resource in _FLAT_NAMED and "/" in obj:
            self.add(
                line,
                Severity.WARNING,
                "RBAC031",
                f"object {obj!r} never matches: {resource} names contain no '/' (use '*' or a name)",
            )
        elif resource in (CLUSTERS, REPOSITORIES) and obj == "*/*":
            self.add(
                line,
                Severity.INFO,
                "RBAC030",
                f"object '*/*' for {resource} matches any URL (URLs contain '/'), "
                "not only project-scoped ones",
            )

    # -- across lines -----------------------------------------------------------------------

    def check_set(self, lines: Sequence[_Line], builtin: Sequence[_Line]) -> None:
        every = list(builtin) + list(lines)
        with_policies = {ln.fields[0] for ln in every if ln.ptype == "p"}
        parents: dict[str, set[str]] = {}
        for ln in every:
            if ln.ptype == "g":
                parents.setdefault(ln.fields[0], set()).add(ln.fields[1])

        def effective(role: str) -> bool:
            seen: set[str] = set()
            todo = [role]
            while todo:
                current = todo.pop()
                if current in with_policies:
                    return True
                if current not in seen:
                    seen.add(current)
                    todo.extend(parents.get(current, ()))
            return False

        for ln in lines:
            if ln.ptype != "g":
                continue
            role = ln.fields[1]
            if effective(role):
                continue
            if role.startswith("proj:"):
                self.add(
                    ln,
                    Severity.INFO,
                    "RBAC041",
                    f"role {role!r} has no policies here; it only works if an AppProject defines that role",
                )
            else:
                self.add(
                    ln,
                    Severity.WARNING,
                    "RBAC041",
                    f"role {role!r} has no p lines (directly or inherited), so this binding grants nothing",
                )
        bound = set(parents)
        for ln in lines:
            if ln.ptype != "p":
                continue
            subject = ln.fields[0]
            if ":" in subject and not subject.startswith(("role:", "proj:")) and subject not in bound:
                self.add(
                    ln,
                    Severity.WARNING,
                    "RBAC042",
                    f"{subject!r} looks like an SSO group but is not the first field of any g line; "
                    "Argo CD only checks groups that have a role assigned (g line), so this grant "
                    "never applies to group members",
                )
        first: dict[tuple[str, tuple[str, ...]], _Line] = {}
        for ln in lines:
            key = (ln.ptype, ln.fields)
            if key in first:
                prev = first[key]
                self.add(
                    ln,
                    Severity.WARNING,
                    "RBAC050",
                    f"duplicate of {prev.source}:{prev.line}; it has no effect",
                )
            else:
                first[key] = ln
        allows = {ln.fields[:4]: ln for ln in lines if ln.ptype == "p" and ln.fields[4] == "allow"}
        for ln in lines:
            if ln.ptype == "p" and ln.fields[4] == "deny" and ln.fields[:4] in allows:
                prev = allows[ln.fields[:4]]
                self.add(
                    ln,
                    Severity.INFO,
                    "RBAC051",
                    f"denies exactly what {prev.source}:{prev.line} allows; "
                    "deny wins, so that allow never applies",
                )


def _run(
    sources: Sequence[tuple[str, str]], mode: MatchMode, include_builtin: bool
) -> tuple[list[Finding], list[_Line]]:
    linter = _Linter(mode)
    lines: list[_Line] = []
    for source, text in sources:
        lines.extend(linter.parse(source, text))
    for line in lines:
        linter.check_line(line)
    builtin = _Linter(MatchMode.GLOB).parse("builtin", BUILTIN_POLICY_CSV) if include_builtin else []
    linter.check_set(lines, builtin)
    order = {source: i for i, (source, _text) in enumerate(sources)}
    findings = sorted(linter.findings, key=lambda f: (order.get(f.source, len(order)), f.line, f.code))
    return findings, lines


def lint_policy(
    csv_text: str,
    *,
    match_mode: MatchMode | str = MatchMode.GLOB,
    include_builtin: bool = True,
    source: str = POLICY_CSV_KEY,
) -> list[Finding]:
    """Lint one policy CSV. Line numbers count every line of ``csv_text`` from 1."""
    mode = match_mode if isinstance(match_mode, MatchMode) else MatchMode.parse(match_mode)
    findings, _lines = _run([(source, csv_text)], mode, include_builtin)
    return findings


def lint_rbac_config(data: Mapping[str, str], *, include_builtin: bool = True) -> list[Finding]:
    """Lint ``argocd-rbac-cm`` data: every ``policy*.csv`` key (numbered per key) and the settings."""
    config = RbacConfig.from_configmap_data(data)
    sources = list(config.sources) or [(POLICY_CSV_KEY, "")]
    findings, lines = _run(sources, config.match_mode, include_builtin)
    raw_mode = data.get(MATCH_MODE_KEY)
    if raw_mode not in (None, "", "glob", "regex"):
        findings.append(
            Finding(
                0,
                Severity.WARNING,
                "RBAC071",
                f"policy.matchMode {raw_mode!r} is not glob or regex; glob is used",
                MATCH_MODE_KEY,
            )
        )
    role = config.default_role
    if role:
        builtin_subjects = {"role:admin", "role:readonly", "admin"} if include_builtin else set()
        subjects = {ln.fields[0] for ln in lines} | builtin_subjects
        if role not in subjects:
            findings.append(
                Finding(
                    0,
                    Severity.WARNING,
                    "RBAC070",
                    f"policy.default {role!r} has no policies, so the default role grants nothing",
                    POLICY_DEFAULT_KEY,
                )
            )
        elif not any(f.severity is Severity.ERROR for f in findings):
            findings.extend(_denies_shadowed_by_default(config, lines, include_builtin))
    return findings


def _denies_shadowed_by_default(
    config: RbacConfig, lines: Sequence[_Line], include_builtin: bool
) -> list[Finding]:
    try:
        enforcer = Enforcer(
            config.policy_csv,
            builtin_policy=BUILTIN_POLICY_CSV if include_builtin else "",
            match_mode=config.match_mode,
        )
    except PolicyError:
        return []
    found: list[Finding] = []
    for ln in lines:
        if ln.ptype == "p" and ln.fields[4] == "deny":
            _subject, resource, action, obj, _effect = ln.fields
            if enforcer.enforce(config.default_role, resource, action, obj):
                found.append(
                    Finding(
                        ln.line,
                        Severity.WARNING,
                        "RBAC072",
                        f"the default role {config.default_role!r} already allows {resource} {action} {obj}; "
                        "it is checked first, so this deny cannot take that away",
                        ln.source,
                    )
                )
    return found


def policy_is_loadable(csv_text: str) -> bool:
    """True if Argo CD would load this policy (no parse or field-count errors)."""
    try:
        parse_policy(csv_text)
    except PolicyError:
        return False
    return True
