"""``argosy admin settings rbac can|validate``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.cli.groups import app
from tests.unit.core.test_rbac_lint import SPEC_6_1_DATA, SPEC_6_1_POLICY

RBAC = ["admin", "settings", "rbac"]


@pytest.fixture
def configmap(tmp_path: Path) -> Path:
    path = tmp_path / "argocd-rbac-cm.yaml"
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-rbac-cm"},
        "data": SPEC_6_1_DATA,
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.csv"
    path.write_text(SPEC_6_1_POLICY)
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*RBAC, *args])
    return result.exit_code, result.stdout


def test_can_yes_exits_0(configmap: Path) -> None:
    assert _run("can", "ci-cd-bot", "sync", "app", "artemis/web", "--policy-file", str(configmap)) == (
        0,
        "Yes\n",
    )


def test_can_no_exits_1(configmap: Path) -> None:
    assert _run(
        "can", "ci-cd-bot", "delete", "applications", "artemis/web", "--policy-file", str(configmap)
    ) == (
        1,
        "No\n",
    )


def test_can_quiet(configmap: Path) -> None:
    assert _run("can", "ci-cd-bot", "delete", "app", "a/b", "--policy-file", str(configmap), "-q") == (1, "")


def test_can_uses_policy_default_from_configmap_unless_overridden(configmap: Path, csv_file: Path) -> None:
    args = ["can", "nobody", "get", "applications", "x/y"]
    assert _run(*args, "--policy-file", str(configmap))[0] == 0  # policy.default: role:readonly
    assert _run(*args, "--policy-file", str(csv_file))[0] == 1  # a CSV has no default role
    assert _run(*args, "--policy-file", str(csv_file), "--default-role", "role:readonly")[0] == 0


def test_can_builtin_policy_switch(csv_file: Path) -> None:
    args = ["can", "admin", "delete", "applications", "x/y", "--policy-file", str(csv_file)]
    assert _run(*args)[0] == 0
    assert _run(*args, "--use-builtin-policy=false")[0] == 1


def test_can_normalises_project_scoped_object(csv_file: Path) -> None:
    assert _run("can", "role:readonly", "get", "applications", "--policy-file", str(csv_file))[0] == 0
    assert _run("can", "role:readonly", "get", "applications", "*", "--policy-file", str(csv_file))[0] == 0


def test_can_with_groups(configmap: Path) -> None:
    base = ["can", "ann", "sync", "applications"]
    group = ["--group", "sophia-intel-ai:artemis-developers", "--policy-file", str(configmap)]
    assert _run(*base, "artemis/web", *group)[0] == 0
    assert _run(*base, "sophia/web", *group)[0] == 1


def test_can_strict_rejects_unknown_names(csv_file: Path) -> None:
    code, _out = _run("can", "u", "launch", "applications", "a/b", "--policy-file", str(csv_file))
    assert code == 20
    assert (
        _run("can", "u", "launch", "applications", "a/b", "--policy-file", str(csv_file), "--strict=false")[0]
        == 1
    )
    assert _run("can", "u", "get", "widgets", "--policy-file", str(csv_file))[0] == 20


def test_can_invalid_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("p, a, b\n")
    assert _run("can", "a", "get", "logs", "--policy-file", str(bad))[0] == 20


def test_validate_spec_policy_reports_the_inline_comment(configmap: Path, csv_file: Path) -> None:
    for path in (configmap, csv_file):
        code, out = _run("validate", "--policy-file", str(path))
        assert code == 1
        assert f"{path}:policy.csv:17: error: RBAC004" in out
        assert "Policy is invalid" in out


def test_validate_clean_policy(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("p, role:dev, applications, sync, dev/*, allow\ng, org:dev, role:dev\n")
    assert _run("validate", "--policy-file", str(path)) == (0, "Policy is valid (0 warning(s)).\n")


def test_validate_warnings_only_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "warn.csv"
    path.write_text("p, u, logs, get, */*, allow\np, u, logs, get, */*, allow\n")
    code, out = _run("validate", "--policy-file", str(path))
    assert code == 0
    assert "RBAC050" in out
    code, out = _run("validate", "--policy-file", str(path), "--min-severity", "error")
    assert "RBAC050" not in out
