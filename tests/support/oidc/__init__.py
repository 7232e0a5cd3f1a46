"""A real OpenID provider on loopback for the SSO tests: panva's ``oidc-provider`` (OpenID Certified).

``start_oidc_provider(redirect_uri, users)`` installs the npm package pinned by ``package.json`` /
``package-lock.json`` (this directory) with ``npm ci`` into ``~/.cache/argosy/npm-oidc-provider-<version>``
on first use (outside the repository, like the other cached tools), copies ``provider.mjs`` next to it and
runs it with node on a free 127.0.0.1 port. The provider has one confidential client (a random secret)
that must use PKCE, the claims parameter, and the given users with their groups; its development
login form takes a user's login and any password. :meth:`OidcProvider.stop` ends the node process by
its pid. Tests skip when node or npm is missing.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.unit.cli.serve import free_port

__all__ = ["OidcProvider", "provider_dir", "start_oidc_provider"]

HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"


def provider_dir() -> Path:
    """The npm install of oidc-provider (version from package.json), made on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed for the OpenID provider (apt-get install nodejs npm)")
    version = json.loads((HERE / "package.json").read_text())["dependencies"]["oidc-provider"]
    target = Path.home() / ".cache" / "argosy" / f"npm-oidc-provider-{version}"
    lock = (HERE / "package-lock.json").read_text()
    installed = target / "node_modules" / "oidc-provider" / "package.json"
    if not installed.exists() or (target / "package-lock.json").read_text() != lock:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "package.json", target / "package.json")
        shutil.copy(HERE / "package-lock.json", target / "package-lock.json")
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=target,
            check=True,
            capture_output=True,
            timeout=600,
        )
    # ESM resolves imports next to the script: it runs from the install directory
    shutil.copy(HERE / "provider.mjs", target / "provider.mjs")
    return target


@dataclass
class OidcProvider:
    port: int
    client_id: str
    client_secret: str = field(repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def issuer(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_oidc_provider(
    redirect_uri: str,
    users: dict[str, dict[str, object]],
    log: Path,
    *,
    cli_client: tuple[str, str] | None = None,
) -> OidcProvider:
    """``cli_client``: (client id, redirect URI) of an extra public client, as ``argosy login --sso``."""
    where = provider_dir()
    provider = OidcProvider(free_port(), "argosy", secrets.token_urlsafe(24))
    with log.open("w") as out:
        provider.process = subprocess.Popen(
            [
                "node",
                "provider.mjs",
                str(provider.port),
                provider.client_id,
                provider.client_secret,
                redirect_uri,
                json.dumps(users),
                *(
                    [json.dumps({"client_id": cli_client[0], "redirect_uri": cli_client[1]})]
                    if cli_client
                    else []
                ),
            ],
            cwd=where,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    url = f"{provider.issuer}/.well-known/openid-configuration"
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return provider
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or provider.process.poll() is not None:
            provider.stop()
            raise AssertionError("the OpenID provider did not start: " + log.read_text())
        time.sleep(0.1)
