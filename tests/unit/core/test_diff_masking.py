"""Secret masking: stable masks, last-applied annotations, and no value ever leaves a diff."""

from __future__ import annotations

import base64
import json
import random
import string
from typing import Any

import pytest

from argosy.core.diff import (
    MASK_CHAR,
    DiffOptions,
    IgnoreRule,
    SecretMasker,
    diff,
    diff_all,
    is_secret,
    mask_secret,
)
from argosy.core.diff.engine import DiffPair

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(data: dict[str, str] | None = None, string_data: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
    }
    if data is not None:
        obj["data"] = {k: b64(v) for k, v in data.items()}
    if string_data is not None:
        obj["stringData"] = string_data
    return obj


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 8 and set(value) == {MASK_CHAR}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "v1", "kind": "Secret"}, True),
        ({"kind": "Secret"}, True),
        ({"apiVersion": "example.com/v1", "kind": "Secret"}, False),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, False),
        (None, False),
    ],
)
def test_is_secret(obj: dict[str, Any] | None, expected: bool) -> None:
    assert is_secret(obj) is expected


def test_masker_is_stable_per_key_and_value() -> None:
    masker = SecretMasker()
    first = masker.mask("password", "a")
    assert first == MASK_CHAR * 8
    assert masker.mask("password", "a") == first
    assert masker.mask("password", "b") == MASK_CHAR * 9
    assert masker.mask("user", "b") == MASK_CHAR * 8


def test_mask_secret_masks_data_string_data_and_last_applied() -> None:
    obj = secret({"password": "hunter2"}, {"token": "t0ps3cret"})
    obj["metadata"]["annotations"] = {
        LAST_APPLIED: json.dumps(secret({"password": "hunter2"}, {"token": "old"}))
    }
    masked = mask_secret(obj)
    assert masked is not None
    text = json.dumps(masked)
    for value in ("hunter2", b64("hunter2"), "t0ps3cret", "old"):
        assert value not in text
    assert all(is_mask(v) for v in masked["data"].values())
    assert all(is_mask(v) for v in masked["stringData"].values())
    inner = json.loads(masked["metadata"]["annotations"][LAST_APPLIED])
    assert inner["data"]["password"] == masked["data"]["password"], "same value, same mask"
    assert obj["data"]["password"] == b64("hunter2"), "the input is not modified"


def test_mask_secret_unparsable_last_applied_and_odd_shapes() -> None:
    obj = secret()
    obj["data"] = "not-a-map-s3cr3t"
    obj["metadata"]["annotations"] = {LAST_APPLIED: "{not json s3cr3t"}
    masked = mask_secret(obj)
    assert "s3cr3t" not in json.dumps(masked)
    assert mask_secret(None) is None
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "visible"}}
    assert mask_secret(config_map) == config_map


def test_secret_diff_shows_which_keys_changed() -> None:
    desired = secret(string_data={"user": "admin", "password": "new-pass"})
    live = secret({"user": "admin", "password": "old-pass", "extra": "kept"})
    result = diff(desired, live)
    assert result.modified
    assert [c.path for c in result.changes] == ["data.password"]
    change = result.changes[0]
    assert is_mask(change.before) and is_mask(change.after) and change.before != change.after
    assert result.normalized_live is not None and result.predicted_live is not None
    assert result.normalized_live["data"]["user"] == result.predicted_live["data"]["user"]
    assert result.normalized_live["data"]["password"] == change.before
    text = json.dumps(result.as_dict())
    assert all(
        v not in text for v in ("new-pass", "old-pass", b64("new-pass"), b64("old-pass"), b64("admin"))
    )


def test_secret_create_and_delete_are_masked() -> None:
    desired = secret(string_data={"password": "create-me"})
    created = diff(desired, None)
    deleted = diff(None, secret({"password": "delete-me"}))
    text = json.dumps([created.as_dict(), deleted.as_dict()])
    for value in ("create-me", "delete-me", b64("create-me"), b64("delete-me")):
        assert value not in text


def test_secret_whole_data_map_change_is_masked() -> None:
    result = diff(secret({"a": "only-in-git"}), secret())
    assert [c.path for c in result.changes] == ["data"]
    assert result.changes[0].before is None
    assert is_mask(result.changes[0].after["a"])


ALPHABET = string.ascii_letters + string.digits


def _value(rng: random.Random) -> str:
    return "V" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(12, 24)))


def _random_case(rng: random.Random) -> tuple[dict[str, Any] | None, dict[str, Any] | None, set[str]]:
    keys = [f"key{i}" for i in range(rng.randint(1, 5))]
    values: set[str] = set()

    def pick() -> dict[str, str]:
        chosen = {k: _value(rng) for k in keys if rng.random() < 0.8}
        values.update(chosen.values())
        return chosen

    shared = pick()
    desired_data = {k: (v if rng.random() < 0.5 else _value(rng)) for k, v in shared.items()}
    values.update(desired_data.values())
    use_string_data = rng.random() < 0.5
    desired = secret(None if use_string_data else desired_data, desired_data if use_string_data else None)
    live = secret({**shared, **pick()})
    if rng.random() < 0.5:
        applied = secret(pick(), pick() if rng.random() < 0.5 else None)
        live["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(applied)}
    live["metadata"]["managedFields"] = [
        {
            "manager": "kubectl-edit",
            "operation": "Update",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {f"f:{k}": {} for k in keys}},
        }
    ]
    shape = rng.random()
    if shape < 0.1:
        return desired, None, values
    if shape < 0.2:
        return None, live, values
    return desired, live, values


def test_no_secret_value_ever_appears_in_a_serialized_diff() -> None:
    rng = random.Random(20250301)
    for _ in range(400):
        desired, live, values = _random_case(rng)
        options = DiffOptions(
            ignore_rules=(IgnoreRule(group="", kind="Secret", json_pointers=("/data/key0",)),)
            if rng.random() < 0.3
            else ()
        )
        result = diff(desired, live, options=options)
        text = json.dumps(result.as_dict()) + repr(result)
        for value in values:
            assert value not in text
            assert b64(value) not in text
        if live is not None:
            assert all(v not in json.dumps(mask_secret(live)) for v in values)


def test_same_value_same_mask_changed_value_different_mask() -> None:
    rng = random.Random(7)
    for _ in range(200):
        same, before, after = _value(rng), _value(rng), _value(rng)
        result = diff(secret({"same": same, "changed": after}), secret({"same": same, "changed": before}))
        assert [c.path for c in result.changes] == ["data.changed"]
        change = result.changes[0]
        assert change.before != change.after
        assert result.normalized_live is not None and result.predicted_live is not None
        assert result.normalized_live["data"]["same"] == result.predicted_live["data"]["same"]


def test_diff_all_masks_each_result() -> None:
    results = diff_all(
        [
            DiffPair(secret({"p": "pair-one-value"}), secret({"p": "pair-one-other"})),
            DiffPair(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v2"}},
                None,
            ),
        ]
    )
    assert [r.modified for r in results] == [True, True]
    assert "pair-one" not in json.dumps([r.as_dict() for r in results])
    assert results[1].predicted_live is not None and results[1].predicted_live["data"] == {"k": "v2"}
