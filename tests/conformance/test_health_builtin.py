"""Conformance: gitops-engine built-in health cases (../shared/conformance/health-builtin/cases.yaml).

Each case is GetResourceHealth(obj, nil): deletion rule plus built-in checks, no overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argosy.core.health import assess, load_yaml
from argosy.model.health import HealthStatus

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITE = REPO_ROOT.parent / "shared" / "conformance" / "health-builtin"
EXPECTED_CASES = 56

pytestmark = pytest.mark.conformance


def _cases() -> list[Any]:
    manifest = SUITE / "cases.yaml"
    if not manifest.is_file():
        return [pytest.param(None, id="suite-missing")]
    data = load_yaml(manifest.read_text(encoding="utf-8"))
    return [
        pytest.param(case, id=f"{i:02d}-{case.get('file') or case['kind']}")
        for i, case in enumerate(data["cases"])
    ]


CASES = _cases()


def _skip_if_absent() -> None:
    if not (SUITE / "cases.yaml").is_file():
        pytest.skip(
            f"conformance data not found at {SUITE} (expected ../shared/conformance next to the repo)"
        )


def test_case_count() -> None:
    _skip_if_absent()
    assert len(CASES) == EXPECTED_CASES


@pytest.mark.parametrize("case", CASES)
def test_builtin_health(case: dict[str, Any] | None) -> None:
    _skip_if_absent()
    assert case is not None
    if "inline_object" in case:
        obj = case["inline_object"]
    else:
        obj = load_yaml((SUITE / case["file"]).read_text(encoding="utf-8"))
    assert obj["apiVersion"] == case["apiVersion"]
    assert obj["kind"] == case["kind"]

    got = assess(obj)

    expected = case["expected_status"]
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got.status == HealthStatus(expected)
    if "expected_message" in case:
        assert got.message == case["expected_message"]
