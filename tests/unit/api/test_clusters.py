"""``/api/v1/clusters``: create, get, update, delete over cluster Secrets (the in-memory fake port)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from argosy.api.clusters import cluster_secret_name
from argosy.services.clusters import parse_cluster_secret
from tests.unit.api.conftest import Api
from tests.unit.api.fakes import NS

URL = "/api/v1/clusters"
SERVER = "https://prod.example.com:6443"
TOKEN = "tok-very-secret-value"  # must never come back
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nkey-bytes\n-----END PRIVATE KEY-----\n"
CERT_PEM = "-----BEGIN CERTIFICATE-----\ncert-bytes\n-----END CERTIFICATE-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _body(**extra: object) -> dict[str, object]:
    return {
        "server": SERVER,
        "name": "prod",
        "config": {
            "bearerToken": TOKEN,
            "password": "pw-secret",
            "tlsClientConfig": {
                "caData": _b64(CERT_PEM),
                "certData": _b64(CERT_PEM),
                "keyData": _b64(KEY_PEM),
            },
        },
        "namespaces": ["web", "api"],
        "project": "artemis",
        "labels": {"env": "prod"},
        **extra,
    }


def _secret_values(api: Api) -> list[str]:
    secret = api.kube.obj("v1", "Secret", cluster_secret_name(SERVER), NS)
    return [base64.b64decode(v).decode() for v in secret["data"].values()]


def test_secret_name_is_argo_cds() -> None:
    # Argo CD: URIToSecretName("cluster", uri) = cluster-<host>-<fnv32a(uri)>
    assert (
        cluster_secret_name("https://kubernetes.default.svc") == "cluster-kubernetes.default.svc-3396314289"
    )
    assert cluster_secret_name("https://[::1]:6443").startswith("cluster---1-")  # "::1" with dashes


def test_create_get_list_never_answer_credentials(api: Api) -> None:
    r = api.post(URL, json=_body())
    assert r.status_code == 200, r.text
    texts = [r.text]
    secret = api.kube.obj("v1", "Secret", cluster_secret_name(SERVER), NS)
    assert secret["metadata"]["labels"] == {"env": "prod", "argocd.argoproj.io/secret-type": "cluster"}
    spec = parse_cluster_secret(secret)  # what the controller reads
    assert (spec.name, spec.server, spec.bearer_token) == ("prod", SERVER, TOKEN)
    assert spec.namespaces == ("web", "api") and spec.key_data == KEY_PEM and spec.project == "artemis"

    got = api.get(f"{URL}/{quote(SERVER, safe='')}")
    assert got.status_code == 200
    assert got.json() == {
        "server": SERVER,
        "name": "prod",
        "config": {"tlsClientConfig": {"insecure": False}},
        "namespaces": ["web", "api"],
        "project": "artemis",
        "labels": {"env": "prod"},
    }
    by_name = api.get(f"{URL}/prod", params={"id.type": "name"})
    assert by_name.json() == got.json()
    listed = api.get(URL).json()["items"]
    assert [c["server"] for c in listed] == ["https://kubernetes.default.svc", SERVER]
    texts += [got.text, by_name.text, api.get(URL).text]
    audit = json.dumps([e.summary for e in api.audit])
    texts.append(audit)
    for text in texts:
        for value in (TOKEN, "pw-secret", _b64(KEY_PEM), "key-bytes", _b64(CERT_PEM)):
            assert value not in text
    assert any(e.action == "cluster.create" and e.outcome == "success" for e in api.audit)
    assert "bearerToken" in audit  # the key names, not their values


def test_upsert_update_and_delete(api: Api) -> None:
    assert api.post(URL, json=_body()).status_code == 200
    # the same spec again is fine; a different one needs upsert
    assert api.post(URL, json=_body()).status_code == 200
    r = api.post(URL, json=_body(name="prod-2"))
    assert r.status_code == 400 and "upsert" in r.json()["message"]
    assert api.post(URL, json=_body(name="prod-2"), params={"upsert": "true"}).status_code == 200
    assert "prod-2" in _secret_values(api)

    # PUT with updatedFields keeps the stored credentials
    r = api.client.put(
        f"{URL}/{quote(SERVER, safe='')}",
        headers=api.h("admin"),
        params={"updatedFields": ["namespaces"]},
        json={"server": SERVER, "namespaces": ["web"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["namespaces"] == ["web"] and TOKEN not in r.text
    spec = parse_cluster_secret(api.kube.obj("v1", "Secret", cluster_secret_name(SERVER), NS))
    assert spec.bearer_token == TOKEN and spec.namespaces == ("web",) and spec.name == "prod-2"

    r = api.client.delete(f"{URL}/prod-2", headers=api.h("admin"), params={"id.type": "name"})
    assert r.status_code == 200, r.text
    assert api.get(f"{URL}/{quote(SERVER, safe='')}").status_code == 404
    assert any(e.action == "cluster.delete" and e.outcome == "success" for e in api.audit)


def test_rbac_and_in_cluster(api: Api) -> None:
    r = api.post(URL, who="readonly", json=_body())
    assert r.status_code == 403 and r.json()["message"] == "permission denied"
    assert any(e.action == "cluster.create" and e.outcome == "denied" for e in api.audit)
    # an unknown cluster: 404 for who may see any cluster, 403 for others (nothing leaks)
    assert api.get(f"{URL}/https%3A%2F%2Fnone.example.com", who="admin").status_code == 404
    assert api.get(f"{URL}/https%3A%2F%2Fnone.example.com", who="nobody").status_code == 403
    r = api.client.delete(f"{URL}/{quote('https://kubernetes.default.svc', safe='')}", headers=api.h("admin"))
    assert r.status_code == 400 and "in-cluster" in r.json()["message"]
    assert api.get(f"{URL}/in-cluster", params={"id.type": "name"}).json()["server"] == (
        "https://kubernetes.default.svc"
    )
    r = api.post(URL, json={"server": "not a url"})
    assert r.status_code == 400
