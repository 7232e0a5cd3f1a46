"""Argo CD RBAC conformance: every case of ../shared/conformance/rbac/cases.yaml.

Cases run through the library (:class:`argosy.core.rbac.Enforcer`); ``admin-cli`` cases whose
built-in policy the CLI can express also run through ``argosy admin settings rbac can``.
The data is read at test time and never copied into this repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import argosy.cli.main  # noqa: F401  (registers the command modules)
from argosy.cli.groups import app
from argosy.core.rbac import (
    BUILTIN_POLICY_CSV,
    Enforcer,
    MatchMode,
    Project,
    ProjectRole,
    compose_policy_csv,
    parse_policy,
)
from argosy.core.rbac.vocabulary import MODEL_CONF

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT.parent / "shared" / "conformance" / "rbac"
CASES_FILE = DATA / "cases.yaml"

pytestmark = pytest.mark.conformance

if not CASES_FILE.is_file():
    pytest.skip(f"RBAC conformance data not found at {CASES_FILE}", allow_module_level=True)

CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text())["cases"]


def _policy(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if "file" in value:
        return (DATA / str(value["file"])).read_text()
    if "configmap" in value:
        data = yaml.safe_load((DATA / str(value["configmap"])).read_text())["data"]
        return compose_policy_csv(data)
    raise AssertionError(f"unknown policy form {value!r}")


def _projects(case: dict[str, Any]) -> list[Project]:
    return [
        Project(
            name=p["name"],
            roles=tuple(
                ProjectRole(
                    name=r["name"],
                    policies=tuple(r.get("policies") or ()),
                    groups=tuple(r.get("groups") or ()),
                )
                for r in p.get("roles") or ()
            ),
        )
        for p in case.get("projects") or ()
    ]


def _library_decision(case: dict[str, Any]) -> bool:
    enforcer = Enforcer(
        _policy(case.get("user_policy")),
        builtin_policy=_policy(case.get("builtin_policy")),
        default_role=case.get("default_role") or "",
        match_mode=case.get("match_mode") or "glob",
        scopes=case.get("scopes") or ("groups",),
        projects=_projects(case),
        enforcement_enabled=case.get("enforcement_enabled", True),
    )
    request = (case["resource"], case["action"], case["object"])
    if "claims" in case:
        return enforcer.enforce_claims(case["claims"], *request)
    if "runtime_policy" in case:
        resource, action, obj = request
        return enforcer.enforce_runtime_policy(
            "",
            _policy(case["runtime_policy"]),
            subject=case.get("subject"),
            resource=resource,
            action=action,
            obj=obj,
        )
    return enforcer.enforce(case.get("subject"), *request)


def _cli_decision(case: dict[str, Any], tmp_path: Path) -> bool | None:
    """Run the case through the CLI when the CLI can express it; None otherwise."""
    builtin = case.get("builtin_policy")
    if builtin is not None and builtin != {"file": "builtin-policy.csv"}:
        return None
    user = case.get("user_policy")
    if isinstance(user, dict) and "configmap" in user and case.get("match_mode", "glob") == "glob":
        policy_file = DATA / user["configmap"]
    else:
        data = {"policy.csv": _policy(user), "policy.matchMode": case.get("match_mode") or "glob"}
        policy_file = tmp_path / "argocd-rbac-cm.yaml"
        policy_file.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "data": data}))
    args = ["admin", "settings", "rbac", "can", case.get("subject") or "", case["action"], case["resource"]]
    args += [case["object"], "--policy-file", str(policy_file)]
    args += ["--default-role", case.get("default_role") or ""]
    if builtin is None:
        args.append("--use-builtin-policy=false")
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    expected_text = "Yes" if result.exit_code == 0 else "No"
    assert result.stdout.strip() == expected_text
    return result.exit_code == 0


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_rbac_case(case: dict[str, Any], tmp_path: Path) -> None:
    expected = case["expected"] == "allow"
    assert _library_decision(case) is expected, case.get("note", "")
    if "admin-cli" in case["tags"]:
        via_cli = _cli_decision(case, tmp_path)
        assert via_cli is None or via_cli is expected, "CLI disagrees with the case"


def test_builtin_policy_constant_matches_upstream() -> None:
    ours = sorted(line.fields for line in parse_policy(BUILTIN_POLICY_CSV))
    theirs = sorted(line.fields for line in parse_policy((DATA / "builtin-policy.csv").read_text()))
    assert ours == theirs


def test_model_constant_matches_upstream() -> None:
    def sections(text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for raw in text.splitlines():
            line = raw.strip()
            if line and not line.startswith(("#", "[")):
                key, _, value = line.partition("=")
                out[key.strip()] = " ".join(value.split())
        return out

    assert sections(MODEL_CONF) == sections((DATA / "model.conf").read_text())


def test_match_mode_default_is_glob() -> None:
    assert MatchMode.parse(None) is MatchMode.GLOB
