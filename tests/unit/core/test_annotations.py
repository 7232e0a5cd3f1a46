"""Annotation and sync-option parsers in argosy.model.annotations, and ResourceKey."""

from __future__ import annotations

import pytest

from argosy.model import annotations as ann
from argosy.model.annotations import (
    AnnotationError,
    HookDeletePolicy,
    HookType,
    PropagationPolicy,
    SyncOptionError,
    SyncOptions,
    SyncPhase,
    Toggle,
)
from argosy.model.resources import GroupKind, ResourceKey


def test_sync_wave_precedence() -> None:
    both = {ann.ANNOTATION_SYNC_WAVE: "-2", ann.HELM_HOOK_WEIGHT: "5", ann.ANNOTATION_HOOK_WEIGHT: "7"}
    assert ann.sync_wave(both) == -2
    assert ann.sync_wave({ann.HELM_HOOK_WEIGHT: "5", ann.ANNOTATION_HOOK_WEIGHT: "7"}) == 5
    assert ann.sync_wave({ann.HELM_HOOK_WEIGHT: "5", ann.ANNOTATION_HOOK_WEIGHT: "7"}, hook=True) == 7
    assert ann.sync_wave({}) == 0
    assert ann.sync_wave({ann.ANNOTATION_SYNC_WAVE: "+3"}) == 3


@pytest.mark.parametrize("value", ["one", "1.5", " 1", "", "1_0"])
def test_invalid_sync_wave_is_a_clear_error(value: str) -> None:
    with pytest.raises(AnnotationError, match=r"argocd.argoproj.io/sync-wave: .* is not an integer"):
        ann.sync_wave({ann.ANNOTATION_SYNC_WAVE: value})


def test_lenient_sync_wave_falls_back_like_argo_cd() -> None:
    annotations = {ann.ANNOTATION_SYNC_WAVE: "x", ann.HELM_HOOK_WEIGHT: "4"}
    assert ann.sync_wave(annotations, strict=False) == 4


def test_hook_info_argo_annotation() -> None:
    info = ann.hook_info({ann.ANNOTATION_HOOK: "PostSync, PreSync,PreSync"})
    assert info.is_hook and not info.skip
    assert info.phases == (SyncPhase.PRE_SYNC, SyncPhase.POST_SYNC)
    skip = ann.hook_info({ann.ANNOTATION_HOOK: "PreSync,Skip"})
    assert skip.skip and not skip.is_hook
    garbage = ann.hook_info({ann.ANNOTATION_HOOK: "Garbage"})
    assert garbage.is_hook and garbage.phases == () and garbage.unknown == ("Garbage",)
    deletion = ann.hook_info({ann.ANNOTATION_HOOK: "PreDelete"})
    assert deletion.types == (HookType.PRE_DELETE,) and deletion.phases == ()


@pytest.mark.parametrize(
    ("helm", "phases"),
    [
        ("pre-install", (SyncPhase.PRE_SYNC,)),
        ("pre-upgrade", (SyncPhase.PRE_SYNC,)),
        ("post-install,post-upgrade", (SyncPhase.POST_SYNC,)),
        ("pre-install,post-install", (SyncPhase.PRE_SYNC, SyncPhase.POST_SYNC)),
        ("test", ()),
    ],
)
def test_helm_hook_mapping(helm: str, phases: tuple[SyncPhase, ...]) -> None:
    info = ann.hook_info({ann.HELM_HOOK: helm})
    assert info.is_hook
    assert info.phases == phases


def test_helm_crd_install_is_a_plain_resource_and_argo_annotation_wins() -> None:
    assert ann.sync_phases({ann.HELM_HOOK: "crd-install"}) == (SyncPhase.SYNC,)
    both = {ann.ANNOTATION_HOOK: "PostSync", ann.HELM_HOOK: "pre-install"}
    assert ann.sync_phases(both) == (SyncPhase.POST_SYNC,)


def test_delete_policies() -> None:
    assert ann.hook_delete_policies({}) == (HookDeletePolicy.BEFORE_HOOK_CREATION,)
    policies = ann.hook_delete_policies(
        {ann.ANNOTATION_HOOK_DELETE_POLICY: "HookSucceeded", ann.HELM_HOOK_DELETE_POLICY: "hook-failed"}
    )
    assert policies == (HookDeletePolicy.HOOK_SUCCEEDED, HookDeletePolicy.HOOK_FAILED)
    with pytest.raises(AnnotationError, match="unknown policy 'Sometimes'"):
        ann.hook_delete_policies({ann.ANNOTATION_HOOK_DELETE_POLICY: "Sometimes"})
    with pytest.raises(AnnotationError, match=r"helm\.sh/hook-delete-policy"):
        ann.hook_delete_policies({ann.HELM_HOOK_DELETE_POLICY: "never"})


def test_parse_sync_options_all_known_keys() -> None:
    opts = ann.parse_sync_options(
        [
            "Prune=confirm",
            "Delete=false",
            "Replace=true",
            "Force=true",
            "ServerSideApply=true",
            "PruneLast=true",
            "SkipDryRunOnMissingResource=true",
            "CreateNamespace=false",
            "ApplyOutOfSyncOnly=true",
            "RespectIgnoreDifferences=true",
            "Validate=false",
            "FailOnSharedResource=true",
            "PrunePropagationPolicy=background",
            "ClientSideApplyMigration=false",
            "SomethingNew=yes",
        ]
    )
    assert opts.prune is Toggle.CONFIRM and opts.delete is Toggle.FALSE
    assert opts.replace and opts.force and opts.server_side_apply and opts.prune_last_enabled
    assert opts.skip_dry_run_on_missing_resource and opts.create_namespace is False
    assert opts.apply_out_of_sync_only and opts.respect_ignore_differences and not opts.validate_enabled
    assert opts.fail_on_shared_resource and opts.client_side_apply_migration is False
    assert opts.propagation_policy is PropagationPolicy.BACKGROUND
    assert opts.unknown == (("SomethingNew", "yes"),)
    assert ann.parse_sync_options(opts.to_list()) == opts


def test_sync_option_defaults() -> None:
    opts = SyncOptions()
    assert opts.propagation_policy is PropagationPolicy.FOREGROUND
    assert opts.validate_enabled and not opts.prune_last_enabled


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("PruneLast", "expected Key=Value"),
        ("=true", "expected Key=Value"),
        ("Prune=maybe", "expected true, false or confirm"),
        ("Replace=yes", "expected true or false"),
        ("PrunePropagationPolicy=eventually", "expected foreground, background or orphan"),
    ],
)
def test_sync_option_errors(item: str, message: str) -> None:
    with pytest.raises(SyncOptionError, match=message):
        ann.parse_sync_options([item])


def test_annotation_options_and_merge() -> None:
    app = ann.parse_sync_options(["Prune=false", "ServerSideApply=true", "X=1"])
    resource = ann.parse_sync_options_annotation("Prune=true,ServerSideApply=false,Replace=true,X=2")
    merged = app.merged(resource)
    assert merged.prune is Toggle.TRUE
    assert merged.server_side_apply is False
    assert merged.replace is True
    assert merged.unknown == (("X", "2"),)
    assert app.merged(SyncOptions()) == app
    with pytest.raises(SyncOptionError, match=r"argocd\.argoproj\.io/sync-options: sync option Prune"):
        ann.parse_sync_options_annotation("Prune=never")


def test_resource_key_round_trip() -> None:
    key = ResourceKey.parse("apps/Deployment/default/web")
    assert key == ResourceKey("apps", "Deployment", "default", "web")
    assert ResourceKey.parse(str(key)) == key
    assert str(ResourceKey.parse("/Namespace//prod")) == "/Namespace//prod"
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    assert ResourceKey.from_manifest(manifest, default_namespace="ns") == ResourceKey(
        "", "ConfigMap", "ns", "c"
    )
    with pytest.raises(ValueError, match="expected group/kind/namespace/name"):
        ResourceKey.parse("Deployment/web")
    assert GroupKind.parse("apps/Deployment") == GroupKind("apps", "Deployment")
    assert GroupKind.parse("Deployment.apps") == GroupKind("apps", "Deployment")
    assert str(GroupKind.parse("Pod")) == "Pod"
