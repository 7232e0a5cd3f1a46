"""``argosy server`` serves HTTPS by default, as argocd-server does, driven by the real CLI and curl.

One server process at a time against the local control plane, in one namespace:

1. no configuration: a self-signed certificate generated under ``<state>/tls`` (0600); the CLI
   refuses it with a certificate error unless ``--insecure``; curl and the CLI verify it when told
   to trust the generated file; the session cookie is ``Secure``;
2. the ``argocd-server-tls`` Secret's certificate is served instead;
3. ``--tls-cert``/``--tls-key`` files win over the Secret;
4. ``server.insecure: "true"`` in argocd-cmd-params-cm: plain HTTP (``--plaintext``), and the
   cookie has no ``Secure`` flag (Argo CD's behaviour).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from argosy.adapters import tls
from tests.integration.test_controller import crds  # noqa: F401  (module fixture: the CRDs)
from tests.support.cluster import ControlPlane
from tests.unit.cli.serve import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARGOSY = ROOT / ".venv" / "bin" / "argosy"
DROP = (
    "ARGOCD_",
    "ARGOSY_",
    "SSL_CERT_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP)}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


@contextlib.contextmanager
def _server(cp: ControlPlane, ns: str, state: Path, *extra: str) -> Iterator[tuple[int, Path]]:
    """``argosy server`` on a free port until it answers ``/readyz`` (over HTTPS or HTTP)."""
    port = free_port()
    log = state.parent / f"server-{port}.log"
    env = _env(PATH=f"{cp.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ARGOSY), "server", "--kubeconfig", str(cp.kubeconfig), "--namespace", ns,
             "--port", str(port), "--no-leader-election", "--state-dir", str(state), *extra],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            for scheme in ("https", "http"):
                with contextlib.suppress(httpx.HTTPError):
                    url = f"{scheme}://127.0.0.1:{port}/readyz"
                    if httpx.get(url, verify=False, timeout=2, trust_env=False).status_code == 200:
                        yield port, log
                        return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "argosy server did not start:\n" + log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _cli(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argosy.cli.main", *args],
        capture_output=True, text=True, timeout=120, check=False,
        env=_env(ARGOSY_CONFIG=str(config), **env),
    )  # fmt: skip


def _served(port: int) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())


def _password(cp: ControlPlane, ns: str) -> str:
    secret = cp.get_json("-n", ns, "secret", "argocd-initial-admin-secret")
    return base64.b64decode(secret["data"]["password"]).decode()


def _login_cookie(base: str, password: str, cafile: Path | None) -> str:
    verify = ssl.create_default_context(cafile=str(cafile)) if cafile is not None else True
    answer = httpx.post(
        f"{base}/api/v1/session",
        json={"username": "admin", "password": password},
        verify=verify,
        trust_env=False,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["set-cookie"]


def _write(directory: Path, cert: tls.ServerCertificate) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(cert.cert_pem)
    (directory / "tls.key").write_bytes(cert.key_pem)
    return directory / "tls.crt", directory / "tls.key"


def test_server_tls_default_secret_files_and_insecure(
    control_plane: ControlPlane,
    namespace: str,
    crds: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    cp, ns = control_plane, namespace
    state = tmp_path / "state"
    config = tmp_path / "config"

    # 1. Default: HTTPS with a generated self-signed certificate kept under <state>/tls.
    with _server(cp, ns, state) as (port, log):
        address, generated = f"127.0.0.1:{port}", state / "tls" / "server.crt"
        text = log.read_text(errors="replace")
        assert f"https://127.0.0.1:{port}/" in text and "generated self-signed" in text, text
        assert (state / "tls" / "server.key").stat().st_mode & 0o077 == 0
        assert _served(port) == x509.load_pem_x509_certificate(generated.read_bytes())
        password = _password(cp, ns)

        refused = _cli(config, "login", address, "--username", "admin", "--password", password)
        assert refused.returncode == 20, refused.stderr
        assert "TLS certificate verification failed" in refused.stderr, refused.stderr
        assert "--insecure" in refused.stderr and password not in refused.stderr
        plaintext = _cli(
            config, "login", address, "--plaintext", "--username", "admin", "--password", password
        )
        assert plaintext.returncode == 20 and "drop --plaintext" in plaintext.stderr, plaintext.stderr

        done = _cli(config, "login", address, "--insecure", "--username", "admin", "--password", password)
        assert done.returncode == 0, done.stderr
        listed = _cli(config, "app", "list")  # the context remembers --insecure
        assert listed.returncode == 0, listed.stderr

        # Clients that trust the generated file verify the server: curl --cacert, the CLI via SSL_CERT_FILE.
        curl = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "--cacert", str(generated), f"https://localhost:{port}/readyz"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert curl.returncode == 0, curl.stderr
        unverified = subprocess.run(
            ["curl", "-sS", "--noproxy", "*", f"https://127.0.0.1:{port}/readyz"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert unverified.returncode == 60, (
            unverified.stderr
        )  # curl: peer certificate cannot be authenticated
        trusted = _cli(tmp_path / "other-config", "login", address, "--username", "admin",
                       "--password", password, SSL_CERT_FILE=str(generated))  # fmt: skip
        assert trusted.returncode == 0, trusted.stderr

        cookie = _login_cookie(f"https://127.0.0.1:{port}", password, generated)
        assert "argocd.token=" in cookie and "secure" in cookie.lower() and "httponly" in cookie.lower()

    # The same file is reused by the next start (a browser's exception outlives a restart) ...
    first = generated.read_bytes()

    # 2. ... unless the argocd-server-tls Secret provides a certificate.
    from_secret = tls.generate_self_signed(["secret.argosy.test"])
    crt, key = _write(tmp_path / "secret", from_secret)
    cp.kubectl("-n", ns, "create", "secret", "tls", "argocd-server-tls", f"--cert={crt}", f"--key={key}")
    with _server(cp, ns, state) as (port, log):
        assert _served(port) == from_secret.leaf()
        assert "secret argocd-server-tls" in log.read_text(errors="replace")
        assert generated.read_bytes() == first
        listed = _cli(config, "app", "list", "--server", f"127.0.0.1:{port}", SSL_CERT_FILE=str(crt))
        assert "TLS certificate verification failed" not in listed.stderr, listed.stderr
        cookie = _login_cookie(f"https://127.0.0.1:{port}", _password(cp, ns), crt)
        assert "secure" in cookie.lower()

    # 3. --tls-cert/--tls-key files win over the Secret.
    from_files = tls.generate_self_signed(["files.argosy.test"])
    fcrt, fkey = _write(tmp_path / "files", from_files)
    with _server(cp, ns, state, "--tls-cert", str(fcrt), "--tls-key", str(fkey)) as (port, _log):
        assert _served(port) == from_files.leaf()

    # 4. server.insecure in argocd-cmd-params-cm: plain HTTP, and the cookie is not Secure.
    cp.kubectl("-n", ns, "create", "configmap", "argocd-cmd-params-cm", "--from-literal=server.insecure=true")
    with _server(cp, ns, state) as (port, log):
        assert f"http://127.0.0.1:{port}/" in log.read_text(errors="replace")
        password = _password(cp, ns)
        done = _cli(config, "login", f"127.0.0.1:{port}", "--plaintext", "--name", "plain",
                    "--username", "admin", "--password", password)  # fmt: skip
        assert done.returncode == 0, done.stderr
        tls_client = _cli(config, "login", f"127.0.0.1:{port}", "--insecure", "--username", "admin",
                          "--password", password)  # fmt: skip
        assert tls_client.returncode == 20 and "--plaintext" in tls_client.stderr, tls_client.stderr
        cookie = _login_cookie(f"http://127.0.0.1:{port}", password, None)
        assert "argocd.token=" in cookie and "secure" not in cookie.lower()
