"""Conformance: Argo CD resource_customizations health tests (../shared/conformance/health-custom).

As Argo CD's TestLuaHealthScript: load each inputPath, pick the check by the object's group/kind,
run it (no deletion rule, no overrides), and compare {status, message} exactly; a test without a
message expects "".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argosy.core.health import load_yaml, run_check
from argosy.model.health import HealthResult, HealthStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE = REPO_ROOT.parent / "shared" / "conformance" / "health-custom"
EXPECTED_CASES = 121

pytestmark = pytest.mark.conformance


def _input_path(test: dict[str, Any]) -> str:
    # The Go loader matches keys case-insensitively (apps.kruise.io/CloneSet spells it "inputpath").
    for key, value in test.items():
        if key.lower() == "inputpath":
            return str(value)
    raise KeyError("inputPath")


def _cases() -> list[Any]:
    if not SUITE.is_dir():
        return [pytest.param(None, None, None, id="suite-missing")]
    params = []
    for test_file in sorted(SUITE.rglob("health_test.yaml")):
        kind_dir = test_file.parent
        data = load_yaml(test_file.read_text(encoding="utf-8"))
        for test in data["tests"]:
            path = _input_path(test)
            rel = kind_dir.relative_to(SUITE).as_posix()
            params.append(pytest.param(kind_dir, path, test["healthStatus"], id=f"{rel}:{path}"))
    return params


CASES = _cases()


def _skip_if_absent() -> None:
    if not SUITE.is_dir():
        pytest.skip(
            f"conformance data not found at {SUITE} (expected ../shared/conformance next to the repo)"
        )


def test_case_count() -> None:
    _skip_if_absent()
    assert len(CASES) == EXPECTED_CASES


@pytest.mark.parametrize(("kind_dir", "input_path", "expected"), CASES)
def test_custom_health(
    kind_dir: Path | None, input_path: str | None, expected: dict[str, Any] | None
) -> None:
    _skip_if_absent()
    assert kind_dir is not None and input_path is not None and expected is not None
    obj = load_yaml((kind_dir / input_path).read_text(encoding="utf-8"))

    got = run_check(obj)

    want = HealthResult(status=HealthStatus(expected["status"]), message=str(expected.get("message") or ""))
    assert got == want
