"""The API server's certificate: generated self-signed (kept 0600 under the state directory),
from files or a Secret, and a TLS context clients can verify against the generated file."""

from __future__ import annotations

import asyncio
import base64
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from argosy.adapters import tls


def _handshake(cert: tls.ServerCertificate, client: ssl.SSLContext, server_hostname: str) -> str:
    """Serve ``cert`` on 127.0.0.1 and complete one TLS handshake with ``client``; the peer's CN."""

    async def go() -> str:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=tls.server_ssl_context(cert))
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=server_hostname
            )
            writer.write(b"ping\n")
            assert await reader.readline() == b"ping\n"
            peer = writer.get_extra_info("peercert")
            writer.close()
            return str(dict(x[0] for x in peer["subject"])["commonName"])
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(go())


def _strict_client(cafile: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cafile))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: the stricter checks
    return context


def test_generated_certificate_is_private_reused_and_verifiable(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "tls"
    cert = tls.self_signed_in(directory, ["argosy.example.com", "10.1.2.3"])
    assert cert.path == directory / "server.crt"
    assert stat.S_IMODE((directory / "server.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "server.crt").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert {"localhost", "127.0.0.1", "::1", "argosy.example.com", "10.1.2.3"} <= set(cert.hosts())
    assert b"PRIVATE KEY" not in cert.cert_pem

    # A client that trusts the file (curl --cacert, httpx verify=path) verifies each SAN.
    for name in ("localhost", "127.0.0.1", "argosy.example.com"):
        assert _handshake(cert, _strict_client(directory / "server.crt"), name) == "localhost"
    # A client with the system's CAs refuses it.
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed"):
        _handshake(cert, ssl.create_default_context(), "localhost")
    # A name the certificate does not carry is refused even by a client that trusts it.
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(cert, _strict_client(directory / "server.crt"), "other.example.com")

    again = tls.self_signed_in(directory, ["argosy.example.com"])
    assert again.cert_pem == cert.cert_pem and again.key_pem == cert.key_pem


def test_generated_certificate_is_replaced_for_new_hosts_or_near_expiry(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    first = tls.self_signed_in(directory)
    wider = tls.self_signed_in(directory, ["argosy.internal"])
    assert wider.cert_pem != first.cert_pem and "argosy.internal" in wider.hosts()
    later = datetime.now(UTC) + timedelta(days=340)  # 25 days left: renewed
    renewed = tls.self_signed_in(directory, ["argosy.internal"], now=later)
    assert renewed.cert_pem != wider.cert_pem
    assert renewed.leaf().not_valid_after_utc > later + timedelta(days=300)


def test_certificate_from_secret_and_files(tmp_path: Path) -> None:
    made = tls.generate_self_signed(["provided.example"])
    secret = {
        "metadata": {"name": "argocd-server-tls"},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(made.cert_pem).decode(),
            "tls.key": base64.b64encode(made.key_pem).decode(),
        },
    }
    found = tls.from_secret(secret)
    assert found is not None and found.source == "secret argocd-server-tls"
    assert "provided.example" in found.hosts()
    assert (
        tls.from_secret({"metadata": {"name": "argocd-secret"}, "data": {"admin.password": "eA=="}}) is None
    )

    (tmp_path / "tls.crt").write_bytes(made.cert_pem)
    (tmp_path / "tls.key").write_bytes(made.key_pem)
    from_files = tls.from_files(tmp_path / "tls.crt", tmp_path / "tls.key")
    (tmp_path / "ca.crt").write_bytes(made.cert_pem)
    assert _handshake(from_files, _strict_client(tmp_path / "ca.crt"), "provided.example") == "localhost"


def test_unusable_certificates_are_named_without_key_material(tmp_path: Path) -> None:
    one, other = tls.generate_self_signed(), tls.generate_self_signed()
    mismatched = tls.ServerCertificate(one.cert_pem, other.key_pem, "secret argocd-server-tls")
    with pytest.raises(tls.TlsError, match="secret argocd-server-tls: the certificate and key") as info:
        tls.server_ssl_context(mismatched)
    assert "PRIVATE" not in str(info.value)
    with pytest.raises(tls.TlsError, match="is not base64"):
        tls.from_secret({"metadata": {"name": "s"}, "data": {"tls.crt": "@@", "tls.key": "@@"}})
    with pytest.raises(tls.TlsError, match="not a PEM certificate"):
        tls.from_secret({"metadata": {"name": "s"}, "stringData": {"tls.crt": "junk", "tls.key": "junk"}})
    with pytest.raises(tls.TlsError, match="cannot read"):
        tls.from_files(tmp_path / "missing.crt", tmp_path / "missing.key")
