"""AppProject enforcement (argosy.core.project): sources, destinations, kinds, windows, orphans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from argosy.core.project import (
    ResourceRef,
    check_application,
    check_resources,
    is_destination_permitted,
    is_group_kind_permitted,
    is_source_permitted,
    orphaned_resources,
    orphaned_resources_condition,
    sync_window_verdict,
    validate_project,
    window_active,
)
from argosy.model.application import Application, ApplicationDestination, AppProject, SyncWindow
from argosy.model.resources import ResourceKey


def project(**spec: Any) -> AppProject:
    return AppProject.from_dict({"metadata": {"name": "artemis", "namespace": "argocd"}, "spec": spec})


def application(
    name: str = "artemis-orchestrator",
    *,
    namespace: str = "argocd",
    repo: str = "https://github.com/sophia-intel-ai/gitops.git",
    dest: dict[str, str] | None = None,
    proj: str = "artemis",
) -> Application:
    return Application.from_dict(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "project": proj,
                "source": {"repoURL": repo, "path": "p"},
                "destination": dest
                or {"server": "https://kubernetes.default.svc", "namespace": "artemis-system"},
            },
        }
    )


@pytest.mark.parametrize(
    ("patterns", "repo", "allowed"),
    [
        (["*"], "https://anything.example/x.git", True),
        ([], "https://github.com/a/b", False),
        (["https://github.com/sophia-intel-ai/*"], "https://github.com/sophia-intel-ai/gitops.git", True),
        (["https://github.com/sophia-intel-ai/*"], "https://github.com/other/gitops", False),
        (
            ["https://github.com/Sophia-Intel-AI/gitops.git/"],
            "https://github.com/sophia-intel-ai/gitops",
            True,
        ),
        (
            ["*", "!https://github.com/sophia-intel-ai/secrets"],
            "https://github.com/sophia-intel-ai/secrets.git",
            False,
        ),
        (
            ["*", "!https://github.com/sophia-intel-ai/secrets"],
            "https://github.com/sophia-intel-ai/app",
            True,
        ),
        (["!https://github.com/x/*"], "https://github.com/y/z", False),  # a deny alone allows nothing
        (["git@github.com:sophia-intel-ai/*"], "ssh://git@github.com/sophia-intel-ai/gitops.git", True),
    ],
)
def test_source_repos(patterns: list[str], repo: str, allowed: bool) -> None:
    assert is_source_permitted(project(sourceRepos=patterns), repo) is allowed


IN_CLUSTER = "https://kubernetes.default.svc"


@pytest.mark.parametrize(
    ("destinations", "dest", "allowed"),
    [
        ([{"server": "*", "namespace": "*"}], {"server": IN_CLUSTER, "namespace": "x"}, True),
        (
            [{"server": IN_CLUSTER, "namespace": "artemis-*"}],
            {"server": IN_CLUSTER, "namespace": "artemis-system"},
            True,
        ),
        (
            [{"server": IN_CLUSTER, "namespace": "artemis-*"}],
            {"server": IN_CLUSTER, "namespace": "kube-system"},
            False,
        ),
        (
            [{"server": IN_CLUSTER, "namespace": "*"}],
            {"server": "https://prod:6443", "namespace": "a"},
            False,
        ),
        ([{"name": "in-cluster", "namespace": "*"}], {"name": "in-cluster", "namespace": "a"}, True),
        ([{"name": "prod-*", "namespace": "*"}], {"name": "prod-eu", "namespace": "a"}, True),
        (
            [{"server": "*", "namespace": "!kube-system"}, {"server": "*", "namespace": "*"}],
            {"server": IN_CLUSTER, "namespace": "kube-system"},
            False,
        ),
        (
            [{"server": "*", "namespace": "!kube-system"}, {"server": "*", "namespace": "*"}],
            {"server": IN_CLUSTER, "namespace": "default"},
            True,
        ),
        (
            [{"server": "!https://prod:6443", "namespace": "*"}, {"server": "*", "namespace": "*"}],
            {"server": "https://prod:6443", "namespace": "a"},
            False,
        ),
        ([], {"server": IN_CLUSTER, "namespace": "a"}, False),
    ],
)
def test_destinations(destinations: list[dict[str, str]], dest: dict[str, str], allowed: bool) -> None:
    assert (
        is_destination_permitted(project(destinations=destinations), ApplicationDestination(**dest))
        is allowed
    )


def test_destination_by_name_matches_entry_by_server_with_cluster_map() -> None:
    proj = project(destinations=[{"server": IN_CLUSTER, "namespace": "*"}])
    dest = ApplicationDestination(name="in-cluster", namespace="a")
    assert not is_destination_permitted(proj, dest)
    assert is_destination_permitted(proj, dest, clusters={"in-cluster": IN_CLUSTER})


@pytest.mark.parametrize(
    ("spec", "group", "kind", "namespaced", "allowed"),
    [
        ({}, "", "Namespace", False, False),  # cluster-scoped: denied unless whitelisted
        ({}, "apps", "Deployment", True, True),  # namespaced: allowed by default
        ({"clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}]}, "", "Namespace", False, True),
        (
            {"clusterResourceWhitelist": [{"group": "*", "kind": "*"}]},
            "rbac.authorization.k8s.io",
            "ClusterRole",
            False,
            True,
        ),
        (
            {
                "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                "clusterResourceBlacklist": [{"group": "rbac.authorization.k8s.io", "kind": "*"}],
            },
            "rbac.authorization.k8s.io",
            "ClusterRole",
            False,
            False,
        ),
        (
            {"namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]},
            "",
            "ResourceQuota",
            True,
            False,
        ),
        (
            {"namespaceResourceBlacklist": [{"group": "", "kind": "ResourceQuota"}]},
            "",
            "ConfigMap",
            True,
            True,
        ),
        ({"namespaceResourceWhitelist": [{"group": "apps", "kind": "*"}]}, "", "ConfigMap", True, False),
        ({"namespaceResourceWhitelist": [{"group": "apps", "kind": "*"}]}, "apps", "StatefulSet", True, True),
        (
            {"namespaceResourceWhitelist": [{"group": "*.k8s.io", "kind": "*"}]},
            "networking.k8s.io",
            "Ingress",
            True,
            True,
        ),
    ],
)
def test_group_kind_permissions(
    spec: dict[str, Any], group: str, kind: str, namespaced: bool, allowed: bool
) -> None:
    assert is_group_kind_permitted(project(**spec), group, kind, namespaced=namespaced) is allowed


def test_check_resources_messages() -> None:
    proj = project(namespaceResourceBlacklist=[{"group": "", "kind": "ResourceQuota"}])
    violations = check_resources(
        proj,
        [
            ResourceRef(ResourceKey("", "ResourceQuota", "a", "quota"), namespaced=True),
            ResourceRef(ResourceKey("", "Namespace", "", "a"), namespaced=False),
            ResourceRef(ResourceKey("apps", "Deployment", "a", "web"), namespaced=True),
        ],
    )
    assert [v.message for v in violations] == [
        "resource :ResourceQuota (namespaced, quota) is not permitted in project 'artemis'",
        "resource :Namespace (cluster-scoped, a) is not permitted in project 'artemis'",
    ]
    assert {v.condition for v in violations} == {"SyncError"}


def test_default_project_allows_everything() -> None:
    proj = AppProject.default()
    app = application(
        repo="https://example.com/anything", dest={"server": "https://x", "namespace": "y"}, proj=""
    )
    assert check_application(proj, app) == ()
    assert is_group_kind_permitted(proj, "rbac.authorization.k8s.io", "ClusterRole", namespaced=False)


def test_check_application_lists_every_violation() -> None:
    proj = project(
        sourceRepos=["https://github.com/sophia-intel-ai/*"],
        destinations=[{"server": IN_CLUSTER, "namespace": "artemis-*"}],
    )
    app = application(
        repo="https://gitlab.com/evil/repo", dest={"server": IN_CLUSTER, "namespace": "kube-system"}
    )
    messages = [v.message for v in check_application(proj, app)]
    assert messages == [
        "application repo https://gitlab.com/evil/repo is not permitted in project 'artemis'",
        f"application destination server '{IN_CLUSTER}' and namespace 'kube-system' do not match any of the "
        "allowed destinations in project 'artemis'",
    ]
    assert check_application(proj, application()) == ()


@pytest.mark.parametrize(
    ("app_namespace", "source_namespaces", "ok"),
    [
        ("argocd", [], True),
        ("team-a", [], False),
        ("team-a", ["team-*"], True),
        ("team-a", ["team-*", "!team-a"], False),
    ],
)
def test_source_namespaces(app_namespace: str, source_namespaces: list[str], ok: bool) -> None:
    proj = project(
        sourceRepos=["*"],
        destinations=[{"server": "*", "namespace": "*"}],
        sourceNamespaces=source_namespaces,
    )
    violations = check_application(proj, application(namespace=app_namespace))
    assert (violations == ()) is ok


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "active"),
    [
        ({"schedule": "0 22 * * *", "duration": "1h"}, "2026-03-02T22:30:00", True),
        ({"schedule": "0 22 * * *", "duration": "1h"}, "2026-03-02T22:00:00", True),  # start is inclusive
        ({"schedule": "0 22 * * *", "duration": "1h"}, "2026-03-02T23:00:00", False),  # end is exclusive
        ({"schedule": "0 22 * * *", "duration": "1h"}, "2026-03-02T21:59:59", False),
        ({"schedule": "0 22 * * *", "duration": "8h"}, "2026-03-03T05:59:00", True),  # crosses midnight
        ({"schedule": "0 9 * * 1-5", "duration": "8h"}, "2026-03-07T10:00:00", False),  # a Saturday
        ({"schedule": "0 9 * * 1-5", "duration": "8h"}, "2026-03-06T10:00:00", True),  # a Friday
        # 22:00 in Berlin (UTC+1 in March before DST) is 21:00 UTC.
        (
            {"schedule": "0 22 * * *", "duration": "1h", "timeZone": "Europe/Berlin"},
            "2026-03-02T21:30:00",
            True,
        ),
        (
            {"schedule": "0 22 * * *", "duration": "1h", "timeZone": "Europe/Berlin"},
            "2026-03-02T22:30:00",
            False,
        ),
        ({"schedule": "not a cron", "duration": "1h"}, "2026-03-02T22:30:00", False),
        ({"schedule": "* * * * *", "duration": "bogus"}, "2026-03-02T22:30:00", False),
    ],
)
def test_window_active(window: dict[str, str], now: str, active: bool) -> None:
    assert window_active(SyncWindow.from_dict({"kind": "deny", **window}), at(now)) is active


NIGHT = "2026-03-02T23:30:00"  # inside a 22:00+2h window
DAY = "2026-03-02T12:00:00"


def windows_project(*windows: dict[str, Any]) -> AppProject:
    return project(syncWindows=list(windows))


DENY_NIGHT = {"kind": "deny", "schedule": "0 22 * * *", "duration": "2h", "applications": ["*"]}
ALLOW_NIGHT = {"kind": "allow", "schedule": "0 22 * * *", "duration": "2h", "applications": ["*"]}


@pytest.mark.parametrize(
    ("windows", "now", "manual", "allowed"),
    [
        ([], DAY, False, True),
        ([DENY_NIGHT], DAY, False, True),
        ([DENY_NIGHT], NIGHT, False, False),
        ([DENY_NIGHT], NIGHT, True, False),
        ([{**DENY_NIGHT, "manualSync": True}], NIGHT, True, True),
        ([{**DENY_NIGHT, "manualSync": True}], NIGHT, False, False),
        ([ALLOW_NIGHT], NIGHT, False, True),
        ([ALLOW_NIGHT], DAY, False, False),
        ([{**ALLOW_NIGHT, "manualSync": True}], DAY, True, True),
        ([ALLOW_NIGHT, DENY_NIGHT], NIGHT, False, False),  # deny beats allow
        # every active deny must allow manual syncs
        ([{**DENY_NIGHT, "manualSync": True}, DENY_NIGHT], NIGHT, True, False),
        # windows that do not select the app do not count
        ([{**DENY_NIGHT, "applications": ["other-*"]}], NIGHT, False, True),
        ([{**DENY_NIGHT, "applications": [], "namespaces": ["artemis-*"]}], NIGHT, False, False),
        ([{**DENY_NIGHT, "applications": [], "clusters": [IN_CLUSTER]}], NIGHT, False, False),
        # andOperator: every selector must match
        ([{**DENY_NIGHT, "namespaces": ["other"], "andOperator": True}], NIGHT, False, True),
        ([{**DENY_NIGHT, "namespaces": ["other"]}], NIGHT, False, False),
    ],
)
def test_sync_window_verdict(windows: list[dict[str, Any]], now: str, manual: bool, allowed: bool) -> None:
    verdict = sync_window_verdict(windows_project(*windows), application(), at(now), manual=manual)
    assert verdict.allowed is allowed, verdict.reason
    assert (verdict.violation is None) is allowed


def test_denied_verdict_names_the_window() -> None:
    verdict = sync_window_verdict(windows_project(DENY_NIGHT), application(), at(NIGHT), manual=False)
    assert verdict.reason == "sync denied by active sync window(s) deny:0 22 * * *:2h"


def test_validate_project() -> None:
    proj = project(
        syncWindows=[
            {"kind": "maybe", "schedule": "0 22 * *", "duration": "1x", "timeZone": "Mars/Olympus"},
        ],
        destinations=[{"namespace": "a"}],
    )
    problems = validate_project(proj)
    assert problems == (
        "spec.syncWindows[0].kind: must be allow or deny, got 'maybe'",
        "spec.syncWindows[0].schedule: cannot parse cron schedule '0 22 * *'",
        "spec.syncWindows[0].duration: cannot parse duration '1x'",
        "spec.syncWindows[0].timeZone: unknown time zone 'Mars/Olympus' (UTC is used)",
        "spec.syncWindows[0]: needs applications, namespaces or clusters",
        "spec.destinations[0]: needs server or name",
    )
    assert validate_project(windows_project(DENY_NIGHT)) == ()


def test_orphaned_resources() -> None:
    live = [
        ResourceKey("", "ConfigMap", "a", "managed"),
        ResourceKey("", "ConfigMap", "a", "stray"),
        ResourceKey("", "ConfigMap", "a", "kube-root-ca.crt"),
        ResourceKey("", "ConfigMap", "b", "elsewhere"),
    ]
    managed = [ResourceKey("", "ConfigMap", "a", "managed")]
    off = project()
    assert orphaned_resources(off, live, managed, ["a"]) == ()
    on = project(
        orphanedResources={"warn": True, "ignore": [{"kind": "ConfigMap", "name": "kube-root-ca.crt"}]}
    )
    orphans = orphaned_resources(on, live, managed, ["a"])
    assert orphans == (ResourceKey("", "ConfigMap", "a", "stray"),)
    condition = orphaned_resources_condition(on, orphans)
    assert condition is not None and condition.condition == "OrphanedResourceWarning"
    assert condition.message == "Application has 1 orphaned resources"
    quiet = project(orphanedResources={})
    assert orphaned_resources(quiet, live, managed, ["a"]) != ()
    assert orphaned_resources_condition(quiet, orphans) is None
