"""The observers the Git client, Kubernetes client and live cache report to (docs/metrics.md)."""

from __future__ import annotations

import re
import threading

import pytest

from argosy.adapters.kube.requestinfo import RequestInfo, request_info
from argosy.adapters.metrics import PrometheusMetrics, exposition
from argosy.adapters.metrics.prometheus import repo_label
from argosy.ports.metrics import AppMetricsInfo, ClusterStats, app_scope, current_app


def _samples(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        match = re.match(rf"^{metric}\{{(.*)\}} (\S+)$", line)
        if match:
            found.append(
                (dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1))), float(match.group(2)))
            )
    return found


@pytest.mark.parametrize(
    ("method", "path", "params", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/configmaps/cm", None, RequestInfo("Get", "configmaps", "ns", "cm")),
        (
            "GET",
            "/api/v1/namespaces/ns/configmaps",
            {"limit": "500"},
            RequestInfo("List", "configmaps", "ns"),
        ),
        ("GET", "/apis/apps/v1/deployments", {"watch": "true"}, RequestInfo("Watch", "deployments", "")),
        ("GET", "/api/v1/namespaces", None, RequestInfo("List", "namespaces", "")),
        ("GET", "/api/v1/namespaces/argocd", None, RequestInfo("Get", "namespaces", "", "argocd")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/d/deployments/web",
            None,
            RequestInfo("Patch", "deployments", "d", "web"),
        ),
        ("POST", "/apis/batch/v1/namespaces/d/jobs", None, RequestInfo("Create", "jobs", "d")),
        (
            "PUT",
            "/apis/argoproj.io/v1alpha1/namespaces/a/applications/x",
            None,
            RequestInfo("Update", "applications", "a", "x"),
        ),
        ("DELETE", "/api/v1/namespaces/d/pods/p", None, RequestInfo("Delete", "pods", "d", "p")),
        (
            "GET",
            "/apis/apps/v1/namespaces/d/deployments/web/status",
            None,
            RequestInfo("Get", "deployments", "d", "web"),
        ),
        ("GET", "/apis/apps/v1", None, RequestInfo("Get", "", "")),
        ("GET", "/version", None, RequestInfo("Get", "", "")),
        ("OPTIONS", "/api/v1/pods", None, RequestInfo("Unknown", "pods", "")),
    ],
)
def test_request_info_follows_argo_cds_verbs_and_kinds(
    method: str, path: str, params: dict[str, str] | None, expected: RequestInfo
) -> None:
    assert request_info(method, path, params) == expected


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://user:s3cret@git.example.com/org/repo.git", "https://git.example.com/org/repo.git"),
        ("https://ghp_tokenonly@github.com/org/repo", "https://github.com/org/repo"),
        ("http://127.0.0.1:8080/app.git", "http://127.0.0.1:8080/app.git"),
        ("ssh://git:pw@host:2222/org/repo", "ssh://git@host:2222/org/repo"),
        ("ssh://git@host/org/repo", "ssh://git@host/org/repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("git://127.0.0.1:9418/app.git", "git://127.0.0.1:9418/app.git"),
    ],
)
def test_repo_label_never_carries_credentials(url: str, label: str) -> None:
    assert repo_label(url) == label


def test_git_requests_are_counted_per_redacted_repo_and_type() -> None:
    metrics = PrometheusMetrics()
    url = "https://argosy:t0ken-value@127.0.0.1:9/app.git"
    metrics.record_git_request(url, "ls-remote", 0.05)
    metrics.record_git_request(url, "ls-remote", 0.07)
    metrics.record_git_request(url, "fetch", 0.3, failed=True, revision="abc")
    text = exposition(metrics).decode()
    assert "t0ken-value" not in text and "argosy:" not in text
    totals = {s["request_type"]: v for s, v in _samples(text, "argocd_git_request_total")}
    assert totals == {"ls-remote": 2.0, "fetch": 1.0}
    counts = {s["request_type"]: v for s, v in _samples(text, "argocd_git_request_duration_seconds_count")}
    assert counts == {"ls-remote": 2.0, "fetch": 1.0}
    assert _samples(text, "argocd_git_fetch_fail_total") == [
        ({"repo": "https://127.0.0.1:9/app.git", "revision": "abc"}, 1.0)
    ]


def test_app_info_repo_label_is_redacted() -> None:
    metrics = PrometheusMetrics()
    metrics.set_app_state(
        AppMetricsInfo("argocd", "web", "default", repo="https://u:pw-123@git.example/r.git")
    )
    text = exposition(metrics).decode()
    assert "pw-123" not in text
    assert [s["repo"] for s, _ in _samples(text, "argocd_app_info")] == ["https://git.example/r.git"]


def test_kube_requests_take_the_app_labels_of_the_enclosing_scope() -> None:
    metrics = PrometheusMetrics()
    request = {
        "server": "https://127.0.0.1:6443",
        "verb": "Patch",
        "resource_kind": "deployments",
        "resource_namespace": "dest",
        "response_code": 200,
    }
    metrics.record_kube_request(**request)  # type: ignore[arg-type]
    with app_scope("argocd", "web", "team-a", dry_run=True) as scope:
        assert current_app() == scope
        metrics.record_kube_request(**request)  # type: ignore[arg-type]
        metrics.record_kube_request(**request)  # type: ignore[arg-type]
    assert current_app() is None
    samples = _samples(exposition(metrics).decode(), "argocd_app_k8s_request_total")
    by_app = {(s["namespace"], s["name"], s["project"], s["dry_run"]): v for s, v in samples}
    assert by_app == {("", "", "", "false"): 1.0, ("argocd", "web", "team-a", "true"): 2.0}
    labels = samples[0][0]
    assert {
        k: labels[k] for k in ("server", "verb", "resource_kind", "resource_namespace", "response_code")
    } == {
        "server": "https://127.0.0.1:6443",
        "verb": "Patch",
        "resource_kind": "deployments",
        "resource_namespace": "dest",
        "response_code": "200",
    }


def test_app_scope_is_per_thread_and_task() -> None:
    seen: list[object] = []
    with app_scope("argocd", "web", "default"):
        worker = threading.Thread(target=lambda: seen.append(current_app()))
        worker.start()
        worker.join()
    assert seen == [None]


def test_cluster_series_are_read_from_the_sources_at_scrape_time() -> None:
    metrics = PrometheusMetrics()
    stats = [
        ClusterStats("https://kubernetes.default.svc", "in-cluster", "1.31", 10, 3, True, 1.5),
        ClusterStats("https://kubernetes.default.svc", "in-cluster", "1.32", 12, 4, False, 7.0),
    ]
    metrics.add_cluster_source(lambda: stats[0])
    metrics.add_cluster_source(lambda: None)

    def broken() -> ClusterStats:
        raise RuntimeError("cache gone")

    metrics.add_cluster_source(broken)
    metrics.record_cluster_event("https://kubernetes.default.svc", "apps", "Deployment")
    text = exposition(metrics).decode()
    server = {"server": "https://kubernetes.default.svc"}
    assert _samples(text, "argocd_cluster_info") == [
        ({**server, "k8s_version": "1.31", "name": "in-cluster"}, 1.0)
    ]
    assert _samples(text, "argocd_cluster_api_resource_objects") == [(server, 10.0)]
    assert _samples(text, "argocd_cluster_api_resources") == [(server, 3.0)]
    assert _samples(text, "argocd_cluster_cache_age_seconds") == [(server, 1.5)]
    assert _samples(text, "argocd_cluster_connection_status") == [({**server, "k8s_version": "1.31"}, 1.0)]
    assert _samples(text, "argocd_cluster_events_total") == [
        ({**server, "group": "apps", "kind": "Deployment"}, 1.0)
    ]
    stats[0] = stats[1]  # the next scrape sees the new version and a lost connection; old labels go
    text = exposition(metrics).decode()
    assert _samples(text, "argocd_cluster_info") == [
        ({**server, "k8s_version": "1.32", "name": "in-cluster"}, 1.0)
    ]
    assert _samples(text, "argocd_cluster_connection_status") == [({**server, "k8s_version": "1.32"}, 0.0)]
