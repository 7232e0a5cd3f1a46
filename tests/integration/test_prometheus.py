"""deploy/monitoring against Debian's real Prometheus and promtool (package ``prometheus``).

* ``promtool check rules`` on the PrometheusRule's groups;
* ``promtool test rules``: the corrected alerts fire and resolve on synthetic series, at their real
  durations (a failed sync, then a good one; Degraded vs Progressing; the API server missing);
* end to end: Prometheus on a loopback port scrapes our ``PrometheusMetrics`` exposition every
  second; a failing sync then a good sync driven through the Metrics object makes ArgoAppSyncFailed
  fire and resolve (durations scaled down: window 15m -> 20s, for 2m -> 3s); every dashboard query
  returns data.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from argosy.adapters.metrics import CONTENT_TYPE, PrometheusMetrics, exposition
from argosy.ports.metrics import AppMetricsInfo

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy/monitoring"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
LOOPBACK = "127.0.0.1"

needs_prometheus = pytest.mark.skipif(
    not (Path(PROMETHEUS).exists() and Path(PROMTOOL).exists()),
    reason="Prometheus is not installed (Debian package `prometheus`, listed in scripts/lib.sh)",
)


def rule_groups() -> dict[str, Any]:
    doc = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert doc["kind"] == "PrometheusRule"
    return {"groups": doc["spec"]["groups"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def test_manifests_parse() -> None:
    sm = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    assert sm["kind"] == "ServiceMonitor" and sm["spec"]["endpoints"][0]["port"] == "metrics"
    dash = json.loads((MONITORING / "dashboard.json").read_text())
    titles = {p["title"] for p in dash["panels"]}
    assert {"Application Sync Status", "Failed Deployments", "Rollback Events"} <= titles
    assert any(t.startswith("DORA") for t in titles)


@needs_prometheus
def test_promtool_check_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule_groups()))
    result = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


APP = 'namespace="argocd",name="web",project="default",dest_server="https://kubernetes.default.svc",dry_run="false"'
HEALTH_APP = 'namespace="argocd",name="%s",project="p"'
ALERT_LABELS = {
    "namespace": "argocd",
    "name": "web",
    "project": "default",
    "severity": "critical",
    "team": "platform",
}


@needs_prometheus
def test_promtool_unit_tests_of_the_alerts(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(rule_groups()))
    sync_failed = {
        "exp_labels": ALERT_LABELS,
        "exp_annotations": {
            "summary": "ArgoCD Application web sync failed",
            "description": "Application web sync has failed in argocd and has not synced successfully since",
        },
    }
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # a failed sync at 3m, a good one at 10m
                    {"series": f'argocd_app_sync_total{{{APP},phase="Failed"}}', "values": "0 0 0 1x40"},
                    {"series": f'argocd_app_sync_total{{{APP},phase="Succeeded"}}', "values": "0x9 1x40"},
                    {"series": 'up{job="argocd-server-metrics"}', "values": "1x40"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "4m",
                        "alertname": "ArgoAppSyncFailed",
                        "exp_alerts": [],
                    },  # pending (for: 2m)
                    {
                        "eval_time": "6m",
                        "alertname": "ArgoAppSyncFailed",
                        "exp_alerts": [sync_failed],
                    },
                    {
                        "eval_time": "9m",
                        "alertname": "ArgoAppSyncFailed",
                        "exp_alerts": [sync_failed],
                    },
                    {"eval_time": "11m", "alertname": "ArgoAppSyncFailed", "exp_alerts": []},  # resolved
                    {"eval_time": "30m", "alertname": "ArgoAppSyncFailed", "exp_alerts": []},
                    {"eval_time": "30m", "alertname": "ArgocdServerNotReady", "exp_alerts": []},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f'argocd_app_info{{{HEALTH_APP % "a"},health_status="Degraded"}}',
                        "values": "1x20",
                    },
                    {
                        "series": f'argocd_app_info{{{HEALTH_APP % "b"},health_status="Progressing"}}',
                        "values": "1x20",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "ArgoAppHealthDegraded", "exp_alerts": []},
                    {
                        "eval_time": "6m",
                        "alertname": "ArgoAppHealthDegraded",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "namespace": "argocd",
                                    "name": "a",
                                    "project": "p",
                                    "health_status": "Degraded",
                                    "severity": "warning",
                                    "team": "platform",
                                },
                                "exp_annotations": {
                                    "summary": "ArgoCD Application a is Degraded",
                                    "description": "Application a in argocd has been Degraded for more than "
                                    "5 minutes",
                                },
                            }
                        ],
                    },
                    # no server target at all: the old `up == 0` never fired, absent() does
                    {
                        "eval_time": "6m",
                        "alertname": "ArgocdServerNotReady",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical", "team": "platform"},
                                "exp_annotations": {
                                    "summary": "ArgoCD Server is down",
                                    "description": "No ArgoCD Server metrics target has been up "
                                    "for more than 5 minutes",
                                },
                            }
                        ],
                    },
                ],
            },
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "tests.yaml"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------------ end to end


class Exporter:
    def __init__(self, metrics: PrometheusMetrics) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                body = exposition(owner.metrics)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.metrics = metrics
        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def scaled_rules() -> dict[str, Any]:
    """The rules with durations scaled for a test that lasts seconds."""
    groups = rule_groups()
    for group in groups["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[15m\]", "[20s]", rule["expr"])
            rule["for"] = "3s"
    return groups


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[PrometheusMetrics, httpx.Client]]:
    metrics = PrometheusMetrics()
    exporter = Exporter(metrics)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(scaled_rules()))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": "argocd-metrics",
                "honor_labels": True,
                "static_configs": [{"targets": [f"{LOOPBACK}:{exporter.port}"]}],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://{LOOPBACK}:{port}", trust_env=False, timeout=5)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                if client.get("/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        yield metrics, client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        exporter.stop()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def query(client: httpx.Client, expr: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/query", params={"query": expr}).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def alert_states(client: httpx.Client, name: str) -> list[str]:
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return [a["state"] for a in alerts if a["labels"]["alertname"] == name]


@needs_prometheus
def test_end_to_end_alert_fires_and_resolves_and_dashboard_queries_return_data(
    prometheus: tuple[PrometheusMetrics, httpx.Client],
) -> None:
    metrics, client = prometheus
    dest = "https://kubernetes.default.svc"
    sync = {"namespace": "argocd", "name": "web", "project": "default", "dest_server": dest}
    metrics.set_app_state(
        AppMetricsInfo(
            "argocd",
            "web",
            "default",
            dest_server=dest,
            dest_namespace="web",
            repo="http://127.0.0.1/r.git",
            sync_status="Synced",
            health_status="Healthy",
        )
    )
    metrics.set_cluster_info(
        dest, name="in-cluster", k8s_version="1.31", api_resource_objects=42, api_resources=9
    )
    metrics.record_git_request("http://127.0.0.1/r.git", "ls-remote", 0.05)
    metrics.record_k8s_request(
        namespace="argocd",
        name="web",
        project="default",
        server=dest,
        verb="Get",
        resource_kind="Deployment",
        resource_namespace="web",
        response_code=200,
    )
    metrics.set_dora(
        namespace="argocd",
        name="web",
        environment="production",
        deployments_per_day=2.5,
        lead_time_seconds=3600,
        change_failure_rate=0.2,
        time_to_restore_seconds=900,
    )

    def scraped_three_times() -> bool:
        series = query(client, 'argocd_app_sync_total{name="web"}[10s]')
        return bool(series) and all(len(s["values"]) >= 3 for s in series)

    wait_for("the first scrapes", scraped_three_times)

    # a failing sync: the alert goes pending, then fires after `for`
    metrics.observe_reconcile("argocd", dest, 0.7)
    metrics.record_sync(**sync, phase="Failed", duration_seconds=12.0)
    metrics.set_app_state(
        AppMetricsInfo(
            "argocd", "web", "default", dest_server=dest, sync_status="OutOfSync", health_status="Degraded"
        )
    )
    wait_for("ArgoAppSyncFailed to fire", lambda: alert_states(client, "ArgoAppSyncFailed") == ["firing"])
    (alert,) = [
        a
        for a in client.get("/api/v1/alerts").json()["data"]["alerts"]
        if a["labels"]["alertname"] == "ArgoAppSyncFailed"
    ]
    assert alert["labels"]["name"] == "web" and alert["labels"]["severity"] == "critical"

    # a good sync resolves it
    metrics.observe_reconcile("argocd", dest, 1.5)
    metrics.record_sync(**sync, phase="Succeeded", duration_seconds=8.0)
    metrics.record_sync(**sync, phase="Succeeded", duration_seconds=9.0, rollback=True)
    metrics.set_app_state(
        AppMetricsInfo(
            "argocd", "web", "default", dest_server=dest, sync_status="Synced", health_status="Healthy"
        )
    )
    wait_for("ArgoAppSyncFailed to resolve", lambda: alert_states(client, "ArgoAppSyncFailed") == [])
    metrics.observe_reconcile("argocd", dest, 0.3)

    # every dashboard query returns data
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    wait_for(
        "a scrape after the last changes",
        lambda: bool(query(client, 'argocd_app_reconcile_count{namespace="argocd"} >= 3')),
    )
    empty = [e for e in exprs if not query(client, e)]
    assert empty == [], f"dashboard queries without data: {empty}"
    # and the removed/legacy series the spec relies on are there
    assert query(client, 'argocd_app_health_status{name="web",health_status="Healthy"} == 1')
    assert query(client, 'argocd_app_health_status{name="web",health_status="Degraded"}') == []
    assert query(client, 'increase(argocd_app_sync_total{phase="Rollback"}[1m]) > 0')
