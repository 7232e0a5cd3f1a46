"""``argosy server``'s choice of certificate (entrypoints.server.server_certificate) over an
in-memory Kubernetes port: files, then argocd-server-tls, then argocd-secret, then generated;
``server.insecure`` in argocd-cmd-params-cm."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from types import SimpleNamespace

import pytest

from argosy.adapters import tls
from argosy.entrypoints.server import serve_insecure, server_certificate
from tests.unit.api.fakes import NS, FakeKube


def _secret(name: str, cert: tls.ServerCertificate | None, **extra: str) -> dict[str, object]:
    data = {k: base64.b64encode(v.encode()).decode() for k, v in extra.items()}
    if cert is not None:
        data["tls.crt"] = base64.b64encode(cert.cert_pem).decode()
        data["tls.key"] = base64.b64encode(cert.key_pem).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS}, "data": data}


def _choose(kube: FakeKube, state: Path, files: tuple[Path, Path] | None = None) -> tls.ServerCertificate:
    rt = SimpleNamespace(kube=kube)
    cert_file, key_file = files or (None, None)
    return asyncio.run(
        server_certificate(
            rt, NS, cert_file=cert_file, key_file=key_file, state_dir=state, hosts=["127.0.0.1"]
        )
    )


def test_order_files_server_tls_secret_argocd_secret_generated(tmp_path: Path) -> None:
    kube = FakeKube()
    kube.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", "namespace": NS},
              "data": {"url": "https://argosy.example.com"}})  # fmt: skip
    generated = _choose(kube, tmp_path / "state")
    assert generated.source == "generated self-signed" and "argosy.example.com" in generated.hosts()

    broken = tls.ServerCertificate(
        tls.generate_self_signed().cert_pem, tls.generate_self_signed().key_pem, "x"
    )
    kube.add(_secret("argocd-secret", broken, **{"server.secretkey": "k"}))
    assert _choose(kube, tmp_path / "state").cert_pem == generated.cert_pem  # invalid there: skipped

    in_argocd_secret = tls.generate_self_signed(["a.example"])
    kube.objects.clear()
    kube.add(_secret("argocd-secret", in_argocd_secret))
    assert _choose(kube, tmp_path / "state").cert_pem == in_argocd_secret.cert_pem

    provided = tls.generate_self_signed(["p.example"])
    kube.add(_secret("argocd-server-tls", provided))
    assert _choose(kube, tmp_path / "state").source == "secret argocd-server-tls"

    files = tls.generate_self_signed(["f.example"])
    (tmp_path / "f.crt").write_bytes(files.cert_pem)
    (tmp_path / "f.key").write_bytes(files.key_pem)
    chosen = _choose(kube, tmp_path / "state", (tmp_path / "f.crt", tmp_path / "f.key"))
    assert chosen.cert_pem == files.cert_pem

    with pytest.raises(tls.TlsError, match="go together"):
        asyncio.run(server_certificate(SimpleNamespace(kube=kube), NS, cert_file=tmp_path / "f.crt",
                                       key_file=None, state_dir=tmp_path, hosts=[]))  # fmt: skip


def test_insecure_from_the_flag_or_argocd_cmd_params_cm() -> None:
    kube = FakeKube()
    rt = SimpleNamespace(kube=kube)
    assert asyncio.run(serve_insecure(rt, NS, False)) is False
    assert asyncio.run(serve_insecure(rt, NS, True)) is True
    meta = {"name": "argocd-cmd-params-cm", "namespace": NS}
    kube.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"server.insecure": "true"}})
    assert asyncio.run(serve_insecure(rt, NS, False)) is True
