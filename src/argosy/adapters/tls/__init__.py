"""The API server's TLS certificate (layer 3, adapters: files and ``ssl``).

Argo CD's ``argocd-server`` serves HTTPS unless ``--insecure`` (``server.insecure`` in
``argocd-cmd-params-cm``). Its certificate is, in order: the ``argocd-server-tls`` Secret
(``tls.crt``/``tls.key``), else the ``tls.crt``/``tls.key`` of ``argocd-secret``, else a self-signed
one generated at start. Argosy does the same, and also takes ``--tls-cert``/``--tls-key`` files
(checked first). The generated certificate (ECDSA P-256, one year, SANs ``localhost``,
``127.0.0.1``, ``::1`` and the configured hosts) is kept under the state directory
(``<state>/tls/server.crt`` and ``server.key``, mode 0600 in a 0700 directory) and reused while it
covers the hosts and has more than 30 days left, so a browser's exception and a client's trust of
the file outlive a restart. Nothing here is ever committed or logged.

May import: the standard library and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_HOSTS",
    "SERVER_TLS_SECRET",
    "ServerCertificate",
    "TlsError",
    "from_files",
    "from_secret",
    "generate_self_signed",
    "self_signed_in",
    "server_ssl_context",
]

SERVER_TLS_SECRET = "argocd-server-tls"  # noqa: S105  (a Secret name)
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)


class TlsError(Exception):
    """A certificate or key that cannot be used (the message never contains key material)."""


@dataclass(frozen=True)
class ServerCertificate:
    cert_pem: bytes  # the leaf first, then any intermediates
    key_pem: bytes
    source: str  # where it came from, for the start-up line: "files", "secret argocd-server-tls", ...
    path: Path | None = None  # the certificate file clients can trust (generated or given)

    def leaf(self) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificates(self.cert_pem)[0]
        except (ValueError, IndexError) as exc:
            raise TlsError(f"{self.source}: tls.crt is not a PEM certificate") from exc

    def hosts(self) -> list[str]:
        try:
            san = self.leaf().extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return []
        names: list[str] = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        return names

    def fingerprint(self) -> str:
        return self.leaf().fingerprint(hashes.SHA256()).hex(":").upper()


def _hosts(extra: Iterable[str]) -> list[str]:
    out: list[str] = []
    for given in (*DEFAULT_HOSTS, *extra):
        host = given.strip().strip("[]")
        if host and host not in {"0.0.0.0", "::"} and host not in out:  # noqa: S104  (a name, not a bind)
            out.append(host)
    return out


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def generate_self_signed(hosts: Iterable[str] = (), *, now: datetime | None = None) -> ServerCertificate:
    """A self-signed serving certificate for ``localhost``, ``127.0.0.1``, ``::1`` and ``hosts``."""
    names = _hosts(hosts)
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Argosy"),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in names]), critical=False)
        # CA:TRUE so that clients given the file as their CA bundle (curl --cacert, httpx
        # verify=path) accept it: OpenSSL wants a self-signed trust anchor to be a CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServerCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        source="generated self-signed",
    )


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.chmod(0o600)
    tmp.replace(path)


def self_signed_in(
    directory: Path, hosts: Iterable[str] = (), *, now: datetime | None = None
) -> ServerCertificate:
    """The generated certificate kept in ``directory`` (``server.crt``, ``server.key``): reused while
    it covers ``hosts`` and is valid for more than 30 days, generated (and written 0600) otherwise."""
    moment = now or datetime.now(UTC)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    wanted = _hosts(hosts)
    with contextlib.suppress(OSError, TlsError, ValueError):
        existing = ServerCertificate(
            cert_path.read_bytes(), key_path.read_bytes(), "generated self-signed", cert_path
        )
        leaf = existing.leaf()
        if (
            leaf.not_valid_after_utc - RENEW_BEFORE > moment
            and leaf.not_valid_before_utc <= moment
            and set(wanted) <= set(existing.hosts())
        ):
            server_ssl_context(existing)  # the key still matches the certificate
            return existing
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    fresh = generate_self_signed(wanted, now=moment)
    _write_private(key_path, fresh.key_pem)
    _write_private(cert_path, fresh.cert_pem)
    return ServerCertificate(fresh.cert_pem, fresh.key_pem, fresh.source, cert_path)


def from_files(cert_file: Path, key_file: Path) -> ServerCertificate:
    try:
        cert, key = cert_file.read_bytes(), key_file.read_bytes()
    except OSError as exc:
        raise TlsError(f"cannot read the TLS certificate or key: {exc.strerror}: {exc.filename}") from exc
    found = ServerCertificate(cert, key, f"files {cert_file}", cert_file)
    found.leaf()
    return found


def from_secret(secret: Mapping[str, Any], *, source: str | None = None) -> ServerCertificate | None:
    """``tls.crt``/``tls.key`` of a Secret (``data`` base64, or ``stringData``); None without both."""
    name = str((secret.get("metadata") or {}).get("name") or "")
    data = secret.get("data") or {}
    string_data = secret.get("stringData") or {}
    values: dict[str, bytes] = {}
    for key in ("tls.crt", "tls.key"):
        if key in string_data:
            values[key] = str(string_data[key]).encode()
        elif data.get(key):
            try:
                values[key] = base64.b64decode(str(data[key]), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise TlsError(f"secret {name}: {key} is not base64") from exc
    if not values.get("tls.crt") or not values.get("tls.key"):
        return None
    found = ServerCertificate(values["tls.crt"], values["tls.key"], source or f"secret {name}")
    found.leaf()
    return found


def server_ssl_context(cert: ServerCertificate) -> ssl.SSLContext:
    """A server context (TLS 1.2 or newer, as Argo CD's default ``--tlsminversion``) for ``cert``.

    ``ssl`` loads keys only from files, so the PEMs go through a private temporary directory that
    is removed at once."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="argosy-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        _write_private(cert_file, cert.cert_pem)
        _write_private(key_file, cert.key_pem)
        try:
            context.load_cert_chain(cert_file, key_file)
        except (ssl.SSLError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise TlsError(f"{cert.source}: the certificate and key cannot be used ({reason})") from exc
    return context
