"""Cluster Secrets (``argocd.argoproj.io/secret-type: cluster``) into ClusterSpec."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from argosy.services.clusters import ClusterError, is_cluster_secret, parse_cluster_secret

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _secret(data: dict[str, str], *, encoded: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "prod", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
    }
    if encoded:
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        body["stringData"] = data
    return body


def test_parses_argo_cd_fields() -> None:
    config = {
        "bearerToken": "s3cr3t-token",
        "tlsClientConfig": {"caData": base64.b64encode(PEM.encode()).decode(), "serverName": "api.prod"},
    }
    spec = parse_cluster_secret(
        _secret(
            {
                "name": "production",
                "server": "https://prod.example:6443/",
                "config": json.dumps(config),
                "namespaces": "a, b,",
                "clusterResources": "true",
                "project": "artemis",
            }
        )
    )
    assert spec.name == "production"
    assert spec.server == "https://prod.example:6443"
    assert spec.bearer_token == "s3cr3t-token"
    assert spec.ca_data == PEM
    assert spec.server_name == "api.prod"
    assert spec.namespaces == ("a", "b")
    assert spec.cluster_resources is True
    assert spec.project == "artemis"
    assert spec.namespace_allowed("a") and not spec.namespace_allowed("c")
    assert "s3cr3t" not in repr(spec)
    assert is_cluster_secret(_secret({}))


def test_string_data_and_defaults() -> None:
    spec = parse_cluster_secret(_secret({"server": "https://x:6443"}, encoded=False))
    assert spec.name == "https://x:6443"
    assert spec.namespaces == () and spec.cluster_resources is False and not spec.insecure
    assert spec.namespace_allowed("anything")


def test_fingerprint_changes_with_credentials() -> None:
    a = parse_cluster_secret(_secret({"server": "https://x", "config": json.dumps({"bearerToken": "1"})}))
    b = parse_cluster_secret(_secret({"server": "https://x", "config": json.dumps({"bearerToken": "2"})}))
    assert a.fingerprint != b.fingerprint
    assert (
        a.fingerprint
        == parse_cluster_secret(
            _secret({"server": "https://x", "config": json.dumps({"bearerToken": "1"})})
        ).fingerprint
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no server"),
        ({"server": "https://x", "config": "{not json"}, "config is not JSON"),
        ({"server": "https://x", "config": "[]"}, "not a JSON object"),
        (
            {"server": "https://x", "config": json.dumps({"tlsClientConfig": {"caData": "%%%"}})},
            "caData is not base64",
        ),
        (
            {"server": "https://x", "config": json.dumps({"tlsClientConfig": {"certData": "QQ=="}})},
            "certData without keyData",
        ),
        (
            {"server": "https://x", "config": json.dumps({"execProviderConfig": {"command": "x"}})},
            "not supported",
        ),
    ],
)
def test_unusable_secrets_are_named(data: dict[str, str], message: str) -> None:
    with pytest.raises(ClusterError, match=message) as info:
        parse_cluster_secret(_secret(data))
    assert "cluster Secret 'prod'" in str(info.value)
