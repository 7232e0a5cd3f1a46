"""Environment sync-policy profiles (argosy.core.profiles): the spec §5.1 ConfigMap and the merge."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from argosy.core.profiles import (
    CONDITION_PROFILE_WARNING,
    ProfileError,
    effective_sync_policy,
    merge_sync_options,
    parse_sync_policies,
)
from argosy.model.application import Application

SPEC_CONFIGMAP = yaml.safe_load(
    """
apiVersion: v1
kind: ConfigMap
metadata: {name: sync-policies, namespace: argocd}
data:
  production.yaml: |
    syncPolicy:
      automated:
        prune: false  # Never auto-prune in production
        selfHeal: true
        allowEmpty: false
      syncOptions:
      - CreateNamespace=false  # Namespaces pre-created
      - PrunePropagationPolicy=foreground
      - PruneLast=true
      - RespectIgnoreDifferences=true
      - ApplyOutOfSyncOnly=true
      - ServerSideApply=true  # For large objects
      - Validate=true
      - FailOnSharedResource=true
      retry:
        limit: 3
        backoff:
          duration: 10s
          factor: 2
          maxDuration: 5m
  staging.yaml: |
    syncPolicy:
      automated: {prune: true, selfHeal: true, allowEmpty: false}
      syncOptions: [CreateNamespace=true, PrunePropagationPolicy=foreground, ApplyOutOfSyncOnly=true]
      retry: {limit: 5, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}
  development.yaml: |
    syncPolicy:
      automated: {prune: true, selfHeal: true, allowEmpty: true}
      syncOptions:
      - CreateNamespace=true
      - Force=true  # Force sync in dev
      retry: {limit: 10, backoff: {duration: 2s, factor: 2, maxDuration: 1m}}
"""
)
PROFILES = parse_sync_policies(SPEC_CONFIGMAP)


def app(labels: dict[str, str] | None = None, sync_policy: dict[str, Any] | None = None) -> Application:
    spec: dict[str, Any] = {"project": "artemis", "destination": {"server": "https://k", "namespace": "a"}}
    if sync_policy is not None:
        spec["syncPolicy"] = sync_policy
    return Application.from_dict({"metadata": {"name": "a", "labels": labels or {}}, "spec": spec})


def test_spec_configmap_parses_three_profiles() -> None:
    assert sorted(PROFILES) == ["development", "production", "staging"]
    prod = PROFILES["production"].sync_policy
    assert prod.automated is not None and prod.automated.prune is False
    assert "PruneLast=true" in prod.sync_options
    assert prod.retry is not None and prod.retry.limit == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"data": {"prod.yaml": "syncPolicy: [1]"}},
            r"data\[prod.yaml\]: expected an object with a syncPolicy",
        ),
        (
            {"data": {"prod.yaml": "syncPolicy: {automated: {prune: 'no'}}"}},
            r"automated.prune: expected true",
        ),
        ({"data": {"prod.yaml": "a: [b"}}, "invalid YAML"),
        ({"data": {"prod.yaml": 3}}, "expected YAML text"),
    ],
)
def test_malformed_configmap_names_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_sync_policies(data)


def test_non_yaml_keys_are_ignored() -> None:
    assert dict(parse_sync_policies({"data": {"README": "notes", "x.yml": "syncPolicy: {}"}})).keys() == {"x"}


@pytest.mark.parametrize(
    ("labels", "own", "field", "value", "origin"),
    [
        # The profile fills what the app leaves unset.
        ({"environment": "production"}, None, "prune", False, "profile:production"),
        ({"environment": "staging"}, None, "prune", True, "profile:staging"),
        ({"environment": "staging"}, {"automated": {}}, "prune", True, "profile:staging"),
        # The app's own value wins, field by field, even when it is false.
        ({"environment": "staging"}, {"automated": {"prune": False}}, "prune", False, "application"),
        (
            {"environment": "production"},
            {"automated": {"selfHeal": False}},
            "self_heal",
            False,
            "application",
        ),
        (
            {"environment": "production"},
            {"automated": {"selfHeal": False}},
            "allow_empty",
            False,
            "profile:production",
        ),
        ({"environment": "development"}, None, "allow_empty", True, "profile:development"),
        # No label: only the app's own policy; unset fields are Argo CD defaults.
        ({}, {"automated": {"prune": True}}, "self_heal", None, "default"),
    ],
)
def test_automated_fields_merge(
    labels: dict[str, str], own: dict[str, Any] | None, field: str, value: bool | None, origin: str
) -> None:
    eff = effective_sync_policy(app(labels, own), PROFILES)
    automated = eff.policy.automated
    assert automated is not None
    assert getattr(automated, field) == value
    key = {"prune": "prune", "self_heal": "selfHeal", "allow_empty": "allowEmpty"}[field]
    assert eff.origin[f"automated.{key}"] == origin


def test_app_can_opt_out_of_profile_automation() -> None:
    eff = effective_sync_policy(
        app({"environment": "production"}, {"automated": {"enabled": False}}), PROFILES
    )
    assert eff.automated is False
    assert eff.origin["automated.enabled"] == "application"
    assert eff.self_heal is True  # kept, as Argo CD keeps the flags while disabled


def test_sync_options_merge_by_key_with_the_app_winning() -> None:
    eff = effective_sync_policy(
        app({"environment": "production"}, {"syncOptions": ["ServerSideApply=false", "Replace=true"]}),
        PROFILES,
    )
    options = eff.policy.sync_options
    assert "ServerSideApply=false" in options and "ServerSideApply=true" not in options
    assert options[-1] == "Replace=true"
    assert options.index("ServerSideApply=false") == 5  # keeps the profile's position
    assert eff.origin["syncOptions.ServerSideApply"] == "application"
    assert eff.origin["syncOptions.PruneLast"] == "profile:production"
    assert eff.option("Replace") == "true"


def test_retry_merges_field_by_field() -> None:
    eff = effective_sync_policy(
        app({"environment": "production"}, {"retry": {"limit": 7, "backoff": {"factor": 3}}}), PROFILES
    )
    retry = eff.policy.retry
    assert retry is not None and retry.backoff is not None
    assert (retry.limit, retry.backoff.duration, retry.backoff.factor, retry.backoff.max_duration) == (
        7,
        "10s",
        3,
        "5m",
    )
    assert eff.origin["retry.limit"] == "application"
    assert eff.origin["retry.backoff.factor"] == "application"
    assert eff.origin["retry.backoff.duration"] == "profile:production"


def test_unknown_profile_gives_a_condition_and_the_apps_own_policy() -> None:
    eff = effective_sync_policy(app({"environment": "qa"}, {"automated": {"prune": True}}), PROFILES)
    assert eff.condition is not None and eff.condition.type == CONDITION_PROFILE_WARNING
    assert (
        "environment=qa" in eff.condition.message
        and "development, production, staging" in eff.condition.message
    )
    assert eff.profile == ""
    assert eff.policy.sync_options == ()
    assert eff.origin["automated.prune"] == "application"


def test_custom_label_key() -> None:
    eff = effective_sync_policy(app({"stage": "staging"}), PROFILES, label_key="stage")
    assert eff.profile == "staging" and eff.prune is True


def test_development_force_is_carried_with_a_warning() -> None:
    eff = effective_sync_policy(app({"environment": "development"}), PROFILES)
    assert eff.force is True
    assert "Force=true" in eff.policy.sync_options
    assert len(eff.warnings) == 1 and "profile:development" in eff.warnings[0]
    assert effective_sync_policy(app({"environment": "production"}), PROFILES).warnings == ()


def test_no_profile_and_no_policy_is_manual() -> None:
    eff = effective_sync_policy(app(), PROFILES)
    assert eff.automated is False
    assert eff.origin["automated"] == "default" and eff.origin["retry"] == "default"
    assert eff.condition is None


def test_to_status_records_policy_and_origin() -> None:
    eff = effective_sync_policy(app({"environment": "staging"}), PROFILES)
    status = eff.to_status()
    assert status.profile == "staging"
    assert status.policy_origin["automated.prune"] == "profile:staging"
    assert status.effective_sync_policy == eff.policy
    # And it serialises into the Application's status.argosy shape.
    assert status.to_dict()["effectiveSyncPolicy"]["automated"]["prune"] is True


@pytest.mark.parametrize(
    ("profile", "own", "expected"),
    [
        (["A=1", "B=2"], ["B=3"], ("A=1", "B=3")),
        (["A=1"], ["C=1", "A=0"], ("A=0", "C=1")),
        ([], ["X=1"], ("X=1",)),
        (["A=1", "A=2"], [], ("A=1",)),
    ],
)
def test_merge_sync_options(profile: list[str], own: list[str], expected: tuple[str, ...]) -> None:
    assert merge_sync_options(profile, own)[0] == expected
