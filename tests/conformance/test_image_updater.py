"""Image Updater conformance: ../shared/conformance/image-updater/cases.yaml (transcribed Go tests).

Covers tag selection per strategy (``newest_from_tags``), sort orders, ignore-tags globs and
allow-tags match functions. The data is read at test time and never copied into this repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from argosy.core.images import (
    ConstraintError,
    ImageSpec,
    TagInfo,
    UpdateStrategy,
    is_tag_ignored,
    newest_tag,
    parse_allow_tags,
    parse_image_ref,
    select_update,
    sort_tags,
)

pytestmark = pytest.mark.conformance

REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = REPO_ROOT.parent / "shared" / "conformance" / "image-updater" / "cases.yaml"
SKIP_REASON = f"conformance data not found at {CASES_FILE} (shared/ is laid beside the repository)"


def _load() -> dict[str, Any]:
    if not CASES_FILE.is_file():
        return {}
    data: dict[str, Any] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return data


DATA = _load()
CASES: list[dict[str, Any]] = DATA.get("cases", [])


def _tags(case: Mapping[str, Any]) -> list[TagInfo]:
    if "tags_with_dates" in case:
        return [
            TagInfo(str(t["name"]), created=float(t["date_unix"]), digest=t.get("digest"))
            for t in case["tags_with_dates"]
        ]
    return [TagInfo(str(t)) for t in case.get("tags") or []]


def _strategy(name: str) -> UpdateStrategy:
    return UpdateStrategy(name)


def _run_newest(case: Mapping[str, Any]) -> None:
    strategy = _strategy(case["strategy"])
    constraint = str(case.get("constraint") or "")
    tags = _tags(case)
    if case.get("expected_error"):
        with pytest.raises(ConstraintError):
            newest_tag(tags, strategy=strategy, constraint=constraint)
        return
    chosen = newest_tag(tags, strategy=strategy, constraint=constraint)
    expected = case.get("expected_tag")
    assert (chosen.name if chosen else None) == expected
    if "expected_digest" in case:
        assert chosen is not None
        assert chosen.digest == case["expected_digest"]

    # The same decision through the full path: an ImageSpec and the Application's current image.
    current = parse_image_ref(case["current_image"])
    spec = ImageSpec(
        alias=None, image=parse_image_ref(current.name), constraint=constraint, strategy=strategy
    )
    selection = select_update(spec, current, tags)
    if expected is None:
        assert not selection.update, selection.reason
        assert selection.reason.startswith("no update")
    else:
        assert selection.tag == expected, selection.reason
        if strategy == UpdateStrategy.DIGEST:
            assert selection.digest == case["expected_digest"]
            assert selection.update == (current.digest != case["expected_digest"])
        else:
            assert selection.update == (current.tag != expected)


def _run_sort(case: Mapping[str, Any]) -> None:
    by = case["sort"]
    key: UpdateStrategy | Literal["date"] = "date" if by == "date" else _strategy(by)
    ordered = sort_tags(_tags(case), key)
    assert [t.name for t in ordered] == [str(t) for t in case["expected_order"]]


def _run_ignore(case: Mapping[str, Any]) -> None:
    assert is_tag_ignored(str(case["tag"]), [str(p) for p in case["ignore_list"]]) is case["expected_ignored"]


def _run_allow(case: Mapping[str, Any]) -> None:
    matcher = parse_allow_tags(str(case["allow_tags"]))
    assert matcher.matches(str(case["tag"])) is case["expected_match"]


RUNNERS = {
    "newest_from_tags": _run_newest,
    "sort": _run_sort,
    "ignore_tags": _run_ignore,
    "allow_tags": _run_allow,
}


PARAMS = [pytest.param(c, id=c["id"]) for c in CASES] or [
    pytest.param(None, id="no-data", marks=pytest.mark.skip(reason=SKIP_REASON))
]


def _run(case: Mapping[str, Any]) -> None:
    runner = RUNNERS.get(case["kind"])
    assert runner is not None, f"unknown case kind {case['kind']!r}"
    runner(case)


@pytest.mark.parametrize("case", PARAMS)
def test_case(case: dict[str, Any]) -> None:
    _run(case)


def test_count_guard() -> None:
    """Every case in the file runs (distinct ids, a known kind) and passes: the count equals the file's."""
    if not CASES_FILE.is_file():
        pytest.skip(SKIP_REASON)
    raw = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    in_file = len(raw["cases"])
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) == in_file
    passed = 0
    failed: list[str] = []
    for case in CASES:
        try:
            _run(case)
        except AssertionError as err:
            failed.append(f"{case['id']}: {err}")
        else:
            passed += 1
    assert passed == in_file, f"{passed}/{in_file} cases pass; failing: {failed}"
