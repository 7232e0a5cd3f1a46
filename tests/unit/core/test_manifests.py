"""core.manifests: safe multi-document YAML/JSON parsing into Kubernetes objects."""

from __future__ import annotations

import json
import re

import pytest

from argosy.core.manifests import (
    ManifestError,
    ParseLimits,
    load_yaml_documents,
    parse_manifests,
    validate_manifest,
)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = "---\n" + CM.format(name="a") + "---\n---\nnull\n---\n" + CM.format(name="b") + "...\n"
    objs = parse_manifests(text, file="m.yaml")
    assert [o["metadata"]["name"] for o in objs] == ["a", "b"]


def test_json_is_accepted() -> None:
    text = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}})
    assert parse_manifests(text, file="svc.json")[0]["kind"] == "Service"


def test_dates_stay_strings_and_keys_become_strings() -> None:
    text = (
        CM.format(name="a")
        + "data:\n  day: 2026-01-02\n  when: !!timestamp 2026-01-02T03:04:05Z\n  1: one\n  true: yes\n"
    )
    data = parse_manifests(text, file="m.yaml")[0]["data"]
    assert data == {"day": "2026-01-02", "when": "2026-01-02T03:04:05Z", "1": "one", "true": True}


def test_kind_list_is_flattened() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
        "---\napiVersion: v1\nkind: ConfigMapList\nmetadata: {resourceVersion: '1'}\n"
        "items:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n"
    )
    assert [o["metadata"]["name"] for o in parse_manifests(text, file="l.yaml")] == ["a", "b", "c"]


def test_list_item_without_name_is_reported_with_its_index() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {}}\n"
    with pytest.raises(ManifestError, match=r"document 1, items\[0\]: ConfigMap has no metadata.name"):
        parse_manifests(text, file="l.yaml")


def test_generate_name_is_enough() -> None:
    text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n"
    assert parse_manifests(text, file="j.yaml")[0]["metadata"]["generateName"] == "migrate-"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "the object has no apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "the object has no kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "ConfigMap has no metadata"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "has no metadata.name or metadata.generateName"),
        ("- a\n- b\n", "expected a Kubernetes object (a mapping), got a list"),
        ("just text\n", "expected a Kubernetes object (a mapping), got a string"),
    ],
)
def test_objects_need_api_version_kind_and_name(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(message)) as info:
        parse_manifests(CM.format(name="ok") + "---\n" + text, file="bad.yaml")
    assert info.value.file == "bad.yaml"
    assert "document 2" in info.value.message


def test_duplicate_key_names_key_and_line() -> None:
    text = CM.format(name="a") + "data:\n  x: '1'\n  y: '2'\n  x: '3'\n"
    with pytest.raises(ManifestError) as info:
        parse_manifests(text, file="dup.yaml")
    assert "duplicate key 'x' (first defined on line 6)" in str(info.value)
    assert "line 8" in str(info.value)
    assert str(info.value).startswith("dup.yaml: document 1: invalid YAML")


def test_merge_keys_may_be_overridden() -> None:
    text = "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  a: 3\n"
    assert load_yaml_documents(text, file="m.yaml") == [
        {"base": {"a": 1, "b": 2}, "derived": {"a": 3, "b": 2}}
    ]


def test_aliases_are_expanded_into_independent_objects() -> None:
    text = CM.format(name="a") + "data: &d {k: v}\n---\n" + CM.format(name="b") + "data: *d\n"
    with pytest.raises(ManifestError, match="invalid YAML"):
        # Aliases do not cross documents in YAML.
        parse_manifests(text, file="a.yaml")
    text = "x: &d {k: v}\ny: *d\n"
    doc = load_yaml_documents(text, file="a.yaml")[0]
    assert doc["x"] == doc["y"]
    assert doc["x"] is not doc["y"]


def _bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_rejected_without_expanding() -> None:
    with pytest.raises(ManifestError, match="expands to more than 1000000 YAML nodes"):
        parse_manifests(_bomb(), file="bomb.yaml")


def test_small_alias_use_is_fine_and_limit_is_configurable() -> None:
    assert load_yaml_documents(_bomb(levels=2), file="ok.yaml")
    with pytest.raises(ManifestError, match="more than 50 YAML nodes"):
        load_yaml_documents(_bomb(levels=2), file="ok.yaml", limits=ParseLimits(max_nodes=50))


def test_recursive_alias_is_rejected() -> None:
    with pytest.raises(ManifestError, match="recursive alias"):
        load_yaml_documents("a: &a [*a]\n", file="r.yaml")


def test_nesting_depth_limit() -> None:
    text = "a: " + "[" * 30 + "]" * 30 + "\n"
    with pytest.raises(ManifestError, match="nesting deeper than 20 levels"):
        load_yaml_documents(text, file="deep.yaml", limits=ParseLimits(max_depth=20))
    with pytest.raises(ManifestError, match="invalid YAML"):
        load_yaml_documents("[" * 5000 + "]" * 5000, file="deeper.yaml")


def test_document_count_and_text_size_limits() -> None:
    text = "---\n".join(CM.format(name=f"c{i}") for i in range(6))
    assert len(parse_manifests(text, file="m.yaml", limits=ParseLimits(max_documents=6))) == 6
    with pytest.raises(ManifestError, match="more than 5 YAML documents"):
        parse_manifests(text, file="m.yaml", limits=ParseLimits(max_documents=5))
    with pytest.raises(ManifestError, match="larger than 10 characters"):
        parse_manifests(text, file="m.yaml", limits=ParseLimits(max_text_chars=10))


def test_flattened_lists_count_against_the_limit() -> None:
    items = "".join(f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}}}}}\n" for i in range(4))
    text = "apiVersion: v1\nkind: List\nitems:\n" + items
    with pytest.raises(ManifestError, match="more than 3 objects"):
        parse_manifests(text, file="l.yaml", limits=ParseLimits(max_documents=3))


def test_unsafe_tags_are_rejected() -> None:
    with pytest.raises(ManifestError, match="invalid YAML"):
        parse_manifests("!!python/object/apply:os.system ['true']\n", file="evil.yaml")


def test_syntax_error_reports_position() -> None:
    with pytest.raises(ManifestError, match=r"document 2: invalid YAML: .*\(line \d+, column \d+\)"):
        parse_manifests(CM.format(name="a") + "---\na: [1\n", file="s.yaml")


def test_validate_manifest() -> None:
    assert validate_manifest({"apiVersion": "v1", "kind": "A", "metadata": {"name": "x"}}) is None
    assert validate_manifest({"apiVersion": "v1", "kind": "A", "metadata": {"name": ""}}) is not None
    assert validate_manifest(3) == "expected a Kubernetes object (a mapping), got int"
