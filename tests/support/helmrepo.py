"""Test helpers for rendering: a Helm chart repository over HTTP and an OCI registry, on loopback.

* :class:`HelmRepoServer` serves a directory (``index.yaml`` plus packaged charts made with
  ``helm package`` and ``helm repo index``) from a stdlib ``http.server`` thread on 127.0.0.1.
* :class:`OciRegistry` runs Debian's ``docker-registry`` (distribution v2) on a free 127.0.0.1 port
  with filesystem storage under a temporary directory and no authentication; charts are pushed with
  ``helm push --plain-http``.
* :func:`write_chart` writes a small chart; :func:`helm_env` gives helm throw-away HOME/XDG dirs.

Import this module directly from a test module; nothing here is a pytest plugin.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
DOCKER_REGISTRY = Path("/usr/bin/docker-registry")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP proxy


def helm_env(home: Path) -> dict[str, str]:
    """An environment for running helm in tests without touching the user's helm state."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "HELM_REGISTRY_CONFIG": str(home / "config" / "registry.json"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
    }


def write_chart(root: Path, name: str, version: str, templates: dict[str, str], **extra: str) -> Path:
    """A chart directory ``root/name`` with ``Chart.yaml``, ``values.yaml`` and ``templates/*``.

    ``extra`` maps further relative paths (``crds/crd.yaml``) to file contents.
    """
    chart = root / name
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '{version}'\ntype: application\n",
        encoding="utf-8",
    )
    (chart / "values.yaml").write_text(extra.pop("values.yaml", "replicaCount: 1\n"), encoding="utf-8")
    for file, text in templates.items():
        (chart / "templates" / file).write_text(text, encoding="utf-8")
    for file, text in extra.items():
        path = chart / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return chart


def package_chart(helm: Path, chart_dir: Path, dest: Path, env: dict[str, str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(helm), "package", str(chart_dir), "--destination", str(dest)],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )
    packaged = sorted(dest.glob(f"{chart_dir.name}-*.tgz"))
    assert packaged, f"helm package wrote nothing for {chart_dir}"
    return packaged[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class HelmRepoServer:
    """A static Helm chart repository on ``http://127.0.0.1:<port>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="helm-repo", daemon=True)

    def start(self) -> HelmRepoServer:
        self._thread.start()
        return self

    def add_chart(self, helm: Path, chart_dir: Path, env: dict[str, str]) -> Path:
        """Package ``chart_dir`` into the repository and rebuild ``index.yaml``."""
        packaged = package_chart(helm, chart_dir, self.root, env)
        subprocess.run(
            [str(helm), "repo", "index", str(self.root), "--url", self.url],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )
        return packaged

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class OciRegistry:
    """``docker-registry serve`` on ``127.0.0.1:<free port>``, plain HTTP, no auth."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host = f"{LOOPBACK}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> OciRegistry:
        if not DOCKER_REGISTRY.exists():
            raise RuntimeError(f"{DOCKER_REGISTRY} is missing: install the docker-registry Debian package")
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n",
            encoding="utf-8",
        )
        log = (self.workdir / "registry.log").open("wb")
        self._proc = subprocess.Popen(
            [str(DOCKER_REGISTRY), "serve", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError("docker-registry exited: " + (self.workdir / "registry.log").read_text())
            try:
                with _NO_PROXY.open(f"http://{self.host}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry did not answer on {self.host} within {timeout} s")
            time.sleep(0.1)

    def push(self, helm: Path, packaged: Path, repository: str, env: dict[str, str]) -> None:
        subprocess.run(
            [str(helm), "push", str(packaged), f"oci://{self.host}/{repository}", "--plain-http"],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=1):
            raise RuntimeError(f"something still listens on {self.host}")
