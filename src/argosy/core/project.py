"""AppProject enforcement as Argo CD does it: sources, destinations, resource kinds, sync windows.

Layer 1 (``argosy.core``): pure. The time is passed in (``now``); cron schedules are evaluated
with ``croniter`` and time zones with ``zoneinfo`` (tz data, no clock).

Every check returns :class:`Violation` values whose ``message`` is ready for an
``InvalidSpecError`` (application-level checks) or ``SyncError`` (resource checks) condition.
See docs/projects.md for the rules and where Argosy deviates.

Globs: ``*`` (any run of characters, ``/`` included), ``?`` and ``[...]``; a leading ``!`` makes a
deny pattern (``sourceRepos``, ``destinations[].server|name|namespace``, ``sourceNamespaces``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import translate
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

from argosy.model.application import (
    CONDITION_INVALID_SPEC,
    CONDITION_ORPHANED_RESOURCE_WARNING,
    CONDITION_SYNC_ERROR,
    Application,
    ApplicationDestination,
    AppProject,
    GroupKindPattern,
    SyncWindow,
    parse_go_duration,
)
from argosy.model.repository import normalize_repo_url
from argosy.model.resources import ResourceKey

__all__ = [
    "DEFAULT_PROJECT",
    "ResourceRef",
    "SyncWindowVerdict",
    "Violation",
    "check_application",
    "check_destination",
    "check_resources",
    "check_source_namespace",
    "check_source_repo",
    "glob_match",
    "is_destination_permitted",
    "is_group_kind_permitted",
    "is_orphan_ignored",
    "is_source_permitted",
    "matching_windows",
    "orphaned_resources",
    "orphaned_resources_condition",
    "orphaned_resources_monitored",
    "sync_window_verdict",
    "validate_project",
    "window_active",
]

DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Violation:
    """One project rule an application or resource breaks; ``condition`` is the condition type."""

    condition: str
    message: str

    def __str__(self) -> str:
        return self.message


# --- globs -----------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))


def glob_match(pattern: str, text: str) -> bool:
    """Case-sensitive glob; ``*`` also crosses ``/``. A leading ``!`` is *not* handled here."""
    if pattern == "*":
        return True
    return _compiled(pattern).match(text) is not None


def _is_deny(pattern: str) -> bool:
    return pattern.startswith("!")


def _match_possibly_negated(pattern: str, text: str) -> bool:
    """For a deny pattern ``!p``: true when ``text`` does *not* match ``p`` (i.e. it passes)."""
    if _is_deny(pattern):
        return not glob_match(pattern[1:], text)
    return glob_match(pattern, text)


# --- sources ---------------------------------------------------------------------------------------


def is_source_permitted(project: AppProject, repo_url: str) -> bool:
    """``sourceRepos``: some allow pattern matches and no ``!`` pattern does (URLs normalised)."""
    url = normalize_repo_url(repo_url)
    allowed = False
    for raw in project.spec.source_repos:
        if _is_deny(raw):
            if glob_match(_normalize_pattern(raw[1:]), url):
                return False
        elif glob_match(_normalize_pattern(raw), url):
            allowed = True
    return allowed


def _normalize_pattern(pattern: str) -> str:
    return pattern if pattern == "*" else normalize_repo_url(pattern)


def check_source_repo(project: AppProject, repo_url: str) -> Violation | None:
    if is_source_permitted(project, repo_url):
        return None
    return Violation(
        CONDITION_INVALID_SPEC,
        f"application repo {repo_url} is not permitted in project '{project.name}'",
    )


def check_source_namespace(project: AppProject, app: Application, control_namespace: str) -> Violation | None:
    """Apps outside the control-plane namespace need their namespace in ``sourceNamespaces``."""
    ns = app.metadata.namespace
    if not ns or ns == control_namespace:
        return None
    allowed = False
    for pattern in project.spec.source_namespaces:
        if _is_deny(pattern):
            if glob_match(pattern[1:], ns):
                allowed = False
                break
        elif glob_match(pattern, ns):
            allowed = True
    if allowed:
        return None
    return Violation(
        CONDITION_INVALID_SPEC,
        f"application '{app.name}' in namespace '{ns}' is not permitted to use project '{project.name}' "
        "(the namespace is not in the project's sourceNamespaces)",
    )


# --- destinations ----------------------------------------------------------------------------------


def _resolve(dest: ApplicationDestination, clusters: Mapping[str, str] | None) -> tuple[str, str]:
    """(server, name) of a destination, filling the missing one from ``clusters`` (name -> server)."""
    server, name = dest.server, dest.name
    if clusters:
        if not server and name in clusters:
            server = clusters[name]
        if not name:
            for cluster_name, cluster_server in clusters.items():
                if cluster_server == server:
                    name = cluster_name
                    break
    return server, name


def is_destination_permitted(
    project: AppProject, dest: ApplicationDestination, clusters: Mapping[str, str] | None = None
) -> bool:
    """``destinations``: an allow entry matches (server or name, and namespace) and no deny entry
    (one with a ``!`` server, name or namespace) excludes it.

    ``clusters`` maps cluster names to server URLs, so an app addressing a cluster by name matches
    an entry written with its server and the other way round.
    """
    server, name = _resolve(dest, clusters)
    any_allowed = False
    for item in project.spec.destinations:
        server_ok = bool(server) and bool(item.server) and _match_possibly_negated(item.server, server)
        name_ok = bool(name) and bool(item.name) and _match_possibly_negated(item.name, name)
        ns_ok = _match_possibly_negated(item.namespace, dest.namespace)
        cluster_ok = server_ok or name_ok
        if cluster_ok and ns_ok:
            any_allowed = True
            continue
        name_denied = _is_deny(item.name) and bool(name) and not name_ok
        server_denied = _is_deny(item.server) and bool(server) and not server_ok
        if (name_denied or server_denied) and ns_ok:
            return False
        if _is_deny(item.namespace) and not ns_ok and cluster_ok:
            return False
    return any_allowed


def check_destination(
    project: AppProject, dest: ApplicationDestination, clusters: Mapping[str, str] | None = None
) -> Violation | None:
    if is_destination_permitted(project, dest, clusters):
        return None
    cluster = f"server '{dest.server}'" if dest.server else f"name '{dest.name}'"
    return Violation(
        CONDITION_INVALID_SPEC,
        f"application destination {cluster} and namespace '{dest.namespace}' do not match any of the "
        f"allowed destinations in project '{project.name}'",
    )


def check_application(
    project: AppProject,
    app: Application,
    *,
    control_namespace: str = "argocd",
    clusters: Mapping[str, str] | None = None,
) -> tuple[Violation, ...]:
    """Every project rule the Application's spec breaks (project name, sources, destination)."""
    found: list[Violation] = []
    if app.spec.project_name != project.name:
        found.append(
            Violation(
                CONDITION_INVALID_SPEC,
                f"application references project '{app.spec.project_name}', not '{project.name}'",
            )
        )
    ns = check_source_namespace(project, app, control_namespace)
    if ns is not None:
        found.append(ns)
    for source in app.spec.raw_sources():
        repo = source.get("repoURL")
        if isinstance(repo, str):
            violation = check_source_repo(project, repo)
            if violation is not None:
                found.append(violation)
    dest = check_destination(project, app.spec.destination, clusters)
    if dest is not None:
        found.append(dest)
    return tuple(found)


# --- resource kinds --------------------------------------------------------------------------------


def _gk_match(patterns: Iterable[GroupKindPattern], group: str, kind: str, name: str) -> bool:
    for p in patterns:
        if (
            glob_match(p.group, group)
            and glob_match(p.kind, kind)
            and (not p.name or glob_match(p.name, name))
        ):
            return True
    return False


def is_group_kind_permitted(
    project: AppProject, group: str, kind: str, *, namespaced: bool, name: str = ""
) -> bool:
    """Argo CD's rule: a cluster-scoped kind is denied unless it is whitelisted (and not
    blacklisted); a namespaced kind is allowed unless blacklisted or a whitelist exists that
    does not list it."""
    spec = project.spec
    if namespaced:
        white = not spec.namespace_resource_whitelist or _gk_match(
            spec.namespace_resource_whitelist, group, kind, name
        )
        return white and not _gk_match(spec.namespace_resource_blacklist, group, kind, name)
    white = _gk_match(spec.cluster_resource_whitelist, group, kind, name)
    return white and not _gk_match(spec.cluster_resource_blacklist, group, kind, name)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A resource to check: its key and whether its kind is namespaced."""

    key: ResourceKey
    namespaced: bool


def check_resources(project: AppProject, resources: Iterable[ResourceRef]) -> tuple[Violation, ...]:
    """Resources whose kind the project does not permit (``SyncError`` messages)."""
    found: list[Violation] = []
    for ref in resources:
        k = ref.key
        if not is_group_kind_permitted(project, k.group, k.kind, namespaced=ref.namespaced, name=k.name):
            scope = "namespaced" if ref.namespaced else "cluster-scoped"
            found.append(
                Violation(
                    CONDITION_SYNC_ERROR,
                    f"resource {k.group}:{k.kind} ({scope}, {k.name}) is not permitted in project "
                    f"'{project.name}'",
                )
            )
    return tuple(found)


# --- orphaned resources ----------------------------------------------------------------------------


def orphaned_resources_monitored(project: AppProject) -> bool:
    """Monitoring is on when ``orphanedResources`` is present in the project."""
    return project.spec.orphaned_resources is not None


def is_orphan_ignored(project: AppProject, group: str, kind: str, name: str) -> bool:
    orphans = project.spec.orphaned_resources
    if orphans is None:
        return True
    for rule in orphans.ignore:
        if (
            (not rule.group or glob_match(rule.group, group))
            and (not rule.kind or glob_match(rule.kind, kind))
            and (not rule.name or glob_match(rule.name, name))
        ):
            return True
    return False


def orphaned_resources(
    project: AppProject,
    live: Iterable[ResourceKey],
    managed: Iterable[ResourceKey],
    namespaces: Iterable[str],
) -> tuple[ResourceKey, ...]:
    """Live namespaced objects in the app's destination ``namespaces`` that no app manages and the
    project does not ignore (empty when monitoring is off)."""
    if not orphaned_resources_monitored(project):
        return ()
    managed_set = set(managed)
    wanted = set(namespaces)
    return tuple(
        sorted(
            k
            for k in live
            if k.namespace in wanted
            and k not in managed_set
            and not is_orphan_ignored(project, k.group, k.kind, k.name)
        )
    )


def orphaned_resources_condition(project: AppProject, orphans: Sequence[ResourceKey]) -> Violation | None:
    """The ``OrphanedResourceWarning`` condition, only when ``warn`` is true and orphans exist."""
    cfg = project.spec.orphaned_resources
    if cfg is None or not cfg.warn or not orphans:
        return None
    return Violation(
        CONDITION_ORPHANED_RESOURCE_WARNING, f"Application has {len(orphans)} orphaned resources"
    )


# --- sync windows ----------------------------------------------------------------------------------


def _zone(name: str) -> ZoneInfo | None:
    if not name or name == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def window_active(window: SyncWindow, now: datetime) -> bool:
    """Whether ``now`` falls in ``[start, start + duration)`` for some cron start in the window's
    time zone (UTC when unset or unknown). A window with an invalid schedule or duration is
    never active (as in Argo CD)."""
    try:
        duration = parse_go_duration(window.duration)
    except ValueError:
        return False
    if duration <= timedelta(0) or not croniter.is_valid(window.schedule):
        return False
    now_utc = now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)
    zone = _zone(window.time_zone)
    local = now_utc.astimezone(zone) if zone is not None else now_utc
    try:
        # get_prev is strictly before its base; a base one second later makes the start inclusive.
        start = croniter(window.schedule, local + timedelta(seconds=1)).get_prev(datetime)
    except (CroniterBadCronError, ValueError, KeyError):
        return False
    return bool(local < start + duration)


def _window_matches(window: SyncWindow, app: Application) -> bool:
    dest = app.spec.destination
    checks: list[bool] = []
    if window.applications:
        checks.append(any(glob_match(p, app.name) for p in window.applications))
    if window.namespaces:
        checks.append(any(glob_match(p, dest.namespace) for p in window.namespaces))
    if window.clusters:
        checks.append(
            any(
                (bool(dest.name) and glob_match(p, dest.name))
                or (bool(dest.server) and glob_match(p, dest.server))
                for p in window.clusters
            )
        )
    if not checks:
        return False
    return all(checks) if window.and_operator else any(checks)


def matching_windows(project: AppProject, app: Application) -> tuple[SyncWindow, ...]:
    """The project's windows whose applications, namespaces or clusters select the app (OR-ed;
    AND-ed when ``andOperator`` is true)."""
    return tuple(w for w in project.spec.sync_windows if _window_matches(w, app))


@dataclass(frozen=True, slots=True)
class SyncWindowVerdict:
    allowed: bool
    reason: str
    matching: tuple[SyncWindow, ...] = ()
    active: tuple[SyncWindow, ...] = ()

    @property
    def violation(self) -> Violation | None:
        return None if self.allowed else Violation(CONDITION_SYNC_ERROR, self.reason)


def _describe(w: SyncWindow) -> str:
    return f"{w.kind}:{w.schedule}:{w.duration}"


def sync_window_verdict(
    project: AppProject, app: Application, now: datetime, *, manual: bool
) -> SyncWindowVerdict:
    """Argo CD's ``CanSync``: no matching windows -> allowed; an active deny blocks (a manual sync
    passes only if every active deny window has ``manualSync``); matching allow windows that are
    all inactive block (a manual sync passes only if every inactive allow has ``manualSync``)."""
    matching = matching_windows(project, app)
    if not matching:
        return SyncWindowVerdict(True, "no sync windows match the application")
    active = tuple(w for w in matching if window_active(w, now))
    denies = [w for w in active if w.kind == "deny"]
    if denies:
        if manual and all(w.manual_sync for w in denies):
            return SyncWindowVerdict(
                True, "manual sync allowed by the active deny window(s)", matching, active
            )
        names = ", ".join(_describe(w) for w in denies)
        return SyncWindowVerdict(False, f"sync denied by active sync window(s) {names}", matching, active)
    if any(w.kind == "allow" for w in active):
        return SyncWindowVerdict(True, "an allow sync window is active", matching, active)
    inactive_allows = [w for w in matching if w.kind == "allow"]
    if inactive_allows:
        if manual and all(w.manual_sync for w in inactive_allows):
            return SyncWindowVerdict(
                True, "manual sync allowed outside the allow window(s)", matching, active
            )
        names = ", ".join(_describe(w) for w in inactive_allows)
        return SyncWindowVerdict(
            False, f"sync denied: no allow sync window is active ({names})", matching, active
        )
    return SyncWindowVerdict(True, "no active sync window blocks the sync", matching, active)


# --- validation ------------------------------------------------------------------------------------


def validate_project(project: AppProject) -> tuple[str, ...]:
    """Problems in the project itself: bad sync windows, destinations without a cluster."""
    problems: list[str] = []
    for i, w in enumerate(project.spec.sync_windows):
        where = f"spec.syncWindows[{i}]"
        if w.kind not in ("allow", "deny"):
            problems.append(f"{where}.kind: must be allow or deny, got {w.kind!r}")
        if not croniter.is_valid(w.schedule) or len(w.schedule.split()) != 5:
            problems.append(f"{where}.schedule: cannot parse cron schedule {w.schedule!r}")
        try:
            parse_go_duration(w.duration)
        except ValueError:
            problems.append(f"{where}.duration: cannot parse duration {w.duration!r}")
        if w.time_zone and w.time_zone != "UTC" and _zone(w.time_zone) is None:
            problems.append(f"{where}.timeZone: unknown time zone {w.time_zone!r} (UTC is used)")
        if not (w.applications or w.namespaces or w.clusters):
            problems.append(f"{where}: needs applications, namespaces or clusters")
    for i, d in enumerate(project.spec.destinations):
        if not d.server and not d.name:
            problems.append(f"spec.destinations[{i}]: needs server or name")
    return tuple(problems)
