"""The ``control_plane`` fixture: one real local Kubernetes control plane per test session.

It builds the binaries on first use (cached under ~/.cache/argosy), starts a cluster named
``pytest-<pid>`` and stops it, by pid, when the session ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from argosy.adapters.localcluster import plane, toolchain


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ControlPlane:
    name: str
    kubeconfig: Path
    server: str
    bin_dir: Path

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the kubectl we built (v1.36) against this cluster."""
        result = subprocess.run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def wait_for(self, description: str, predicate: Any, timeout: float = 30.0) -> Any:
        """Poll ``predicate`` until it returns something truthy; fail naming ``description``."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {description} (last: {last!r})")

    def new_namespace(self) -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        # Pods need the namespace's default ServiceAccount (created by the controller manager).
        self.wait_for(
            f"serviceaccount default in {name}",
            lambda: self.kubectl("-n", name, "get", "sa", "default", check=False).returncode == 0,
        )
        return name


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    tools = toolchain.ensure_toolchain(_progress)
    name = f"pytest-{os.getpid()}"
    state = plane.up(name, tools, progress=_progress)
    try:
        yield ControlPlane(name=name, kubeconfig=state.kubeconfig, server=state.server, bin_dir=tools.bin_dir)
    finally:
        plane.down(name, progress=_progress)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = control_plane.new_namespace()
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
