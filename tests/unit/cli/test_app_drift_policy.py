"""``argosy app list --drifted`` and the effective sync policy in ``app get``: plain data from status."""

from __future__ import annotations

from typing import Any

import pytest

from argosy.cli.app import _print_app, _sync_policy, drift_summary, is_drifted, policy_rows


def _app(argosy: dict[str, Any] | None = None, spec_policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/r.git", "path": "app", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            **({"syncPolicy": spec_policy} if spec_policy is not None else {}),
        },
        "status": {"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}, "argosy": argosy or {}},
    }


STAGING = {
    "profile": "staging",
    "effectiveSyncPolicy": {
        "automated": {"prune": True, "selfHeal": False, "allowEmpty": False},
        "syncOptions": ["CreateNamespace=true", "ApplyOutOfSyncOnly=true"],
        "retry": {"limit": 5, "backoff": {"duration": "5s"}},
    },
    "policyOrigin": {
        "automated": "profile:staging",
        "automated.prune": "profile:staging",
        "automated.selfHeal": "application",
        "automated.allowEmpty": "profile:staging",
        "syncOptions.CreateNamespace": "profile:staging",
        "syncOptions.ApplyOutOfSyncOnly": "profile:staging",
        "retry": "profile:staging",
        "retry.limit": "profile:staging",
        "retry.backoff.duration": "profile:staging",
        "retry.backoff.factor": "default",
    },
}


def test_drift_detected_or_live_drift_reason_is_drifted() -> None:
    fields = [{"path": "apps/Deployment/web/web:.spec.replicas", "manager": "kubectl-edit", "time": "t"}]
    assert is_drifted(_app({"drift": {"detected": True, "fields": fields}}))
    assert is_drifted(_app({"drift": {"detected": False, "reason": "LiveDrift"}}))
    assert not is_drifted(_app({"drift": {"detected": False, "reason": "NewRevision"}}))
    assert not is_drifted(_app({"drift": {"detected": False, "fields": fields}}))  # healed
    assert not is_drifted(_app())
    assert not is_drifted({"metadata": {"name": "x"}})


def test_drift_summary_names_reason_count_and_managers() -> None:
    fields = [
        {"path": "a", "manager": "kubectl-edit"},
        {"path": "b", "manager": "helm"},
    ]
    app = _app({"drift": {"detected": True, "reason": "LiveDrift", "fields": fields}})
    assert drift_summary(app) == "LiveDrift: 2 fields by helm,kubectl-edit"
    assert drift_summary(_app({"drift": {"detected": False, "reason": "LiveDrift"}})) == "LiveDrift"
    assert drift_summary(_app()) == "<none>"


def test_sync_policy_is_the_effective_one_and_rows_name_their_origin() -> None:
    app = _app(STAGING, spec_policy={"automated": {"selfHeal": False}})
    assert _sync_policy(app) == "Auto-Prune"
    rows = {r[0]: r[1:] for r in policy_rows(app)}
    assert rows["automated.selfHeal"] == ["false", "application"]
    assert rows["automated.prune"] == ["true", "profile:staging"]
    assert rows["syncOptions.CreateNamespace"] == ["CreateNamespace=true", "profile:staging"]
    assert rows["retry.limit"] == ["5", "profile:staging"]
    assert rows["retry.backoff.factor"] == ["-", "default"]
    assert "automated" not in rows and "retry" not in rows
    # Without status (never reconciled): the Application's own policy.
    assert _sync_policy(_app(None, spec_policy={"automated": {}})) == "Auto"
    assert _sync_policy(_app(None)) == "Manual"
    assert policy_rows(_app(None)) == []


def test_get_prints_profile_origins_and_drift(capsys: pytest.CaptureFixture[str]) -> None:
    fields = [{"path": "/ConfigMap/web/settings:.data.v", "manager": "kubectl-patch", "time": "T"}]
    argosy = {**STAGING, "drift": {"detected": True, "reason": "LiveDrift", "fields": fields}}
    _print_app(_app(argosy), "https://argosy", show_operation=False)
    out = capsys.readouterr().out
    assert "Sync Policy:   Auto-Prune (from application, profile:staging)" in out
    assert "Profile:       staging" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("automated.selfHeal"))
    assert line.split() == ["automated.selfHeal", "false", "application"]
    assert "OutOfSync:     LiveDrift" in out
    assert "Drift:         detected" in out
    (row,) = [ln for ln in out.splitlines() if ln.startswith("/ConfigMap/web/settings")]
    assert row.split() == ["/ConfigMap/web/settings:.data.v", "kubectl-patch", "T"]
