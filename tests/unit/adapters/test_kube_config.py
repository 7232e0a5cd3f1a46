"""Kubeconfig parsing into KubeConfig (contexts, TLS material, tokens, unsupported plugins)."""

from __future__ import annotations

import base64
import datetime
import ssl
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from argosy.adapters.kube import KubeConfigError, load_kubeconfig, parse_kubeconfig


def _self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _config(tmp_path: Path) -> dict[str, object]:
    cert, key = _self_signed()
    (tmp_path / "ca.crt").write_bytes(cert)
    (tmp_path / "token").write_text("file-token\n")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "certs",
        "clusters": [
            {
                "name": "a",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": base64.b64encode(cert).decode(),
                },
            },
            {"name": "b", "cluster": {"server": "https://127.0.0.1:7443", "certificate-authority": "ca.crt"}},
            {"name": "c", "cluster": {"server": "https://127.0.0.1:8443", "insecure-skip-tls-verify": True}},
        ],
        "users": [
            {
                "name": "cert-user",
                "user": {
                    "client-certificate-data": base64.b64encode(cert).decode(),
                    "client-key-data": base64.b64encode(key).decode(),
                },
            },
            {"name": "token-user", "user": {"tokenFile": "token"}},
            {"name": "exec-user", "user": {"exec": {"command": "aws"}}},
            {"name": "half", "user": {"client-certificate-data": base64.b64encode(cert).decode()}},
        ],
        "contexts": [
            {"name": "certs", "context": {"cluster": "a", "user": "cert-user", "namespace": "apps"}},
            {"name": "tokens", "context": {"cluster": "b", "user": "token-user"}},
            {"name": "insecure", "context": {"cluster": "c", "user": "token-user"}},
            {"name": "exec", "context": {"cluster": "a", "user": "exec-user"}},
            {"name": "half", "context": {"cluster": "a", "user": "half"}},
        ],
    }


def test_current_context_with_client_certificate(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_config(tmp_path)))
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443"
    assert config.namespace == "apps" and config.context == "certs"
    assert isinstance(config.ssl_context, ssl.SSLContext)
    assert config.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert config.headers() == {}


def test_named_contexts_token_file_and_insecure(tmp_path: Path) -> None:
    data = _config(tmp_path)
    tokens = parse_kubeconfig(data, context="tokens", base_dir=tmp_path)
    assert tokens.token == "file-token"
    assert tokens.headers() == {"Authorization": "Bearer file-token"}
    assert "file-token" not in repr(tokens)
    assert tokens.namespace == "default"
    insecure = parse_kubeconfig(data, context="insecure", base_dir=tmp_path)
    assert insecure.ssl_context is not None
    assert insecure.ssl_context.verify_mode == ssl.CERT_NONE and not insecure.ssl_context.check_hostname


@pytest.mark.parametrize(
    ("context", "message"),
    [("exec", "exec or auth-provider"), ("half", "without a key"), ("missing", "no context named")],
)
def test_unsupported_or_broken(tmp_path: Path, context: str, message: str) -> None:
    with pytest.raises(KubeConfigError, match=message):
        parse_kubeconfig(_config(tmp_path), context=context, base_dir=tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "nope")
