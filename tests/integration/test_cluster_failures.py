"""A failed build or a half-started plane ends with a clear message and leaves nothing running."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from argosy.adapters.localcluster import plane, toolchain
from tests.support.cluster import ControlPlane

pytestmark = pytest.mark.integration


def test_half_started_plane_is_torn_down(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kube-apiserver that dies at once: etcd is already running by then and must be stopped.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for binary in control_plane.bin_dir.iterdir():
        (bin_dir / binary.name).symlink_to(binary.resolve())
    (bin_dir / "kube-apiserver").unlink()
    broken = bin_dir / "kube-apiserver"
    broken.write_text("#!/bin/sh\necho 'simulated apiserver crash' >&2\nexit 3\n")
    broken.chmod(0o755)
    tools = dataclasses.replace(toolchain.ensure_toolchain(lambda _m: None), bin_dir=bin_dir)
    monkeypatch.setenv("ARGOSY_STATE_DIR", str(tmp_path / "state"))
    messages: list[str] = []
    with pytest.raises(plane.ClusterError) as caught:
        plane.up("broken", tools, progress=messages.append, timeout=30)
    message = str(caught.value)
    assert "kube-apiserver /readyz" in message
    log = tmp_path / "state" / "clusters" / "broken" / "logs" / "kube-apiserver.log"
    assert str(log) in message
    assert "simulated apiserver crash" in log.read_text()
    # Everything that did start (etcd) was stopped, and only the logs remain.
    remaining = {p.name for p in (tmp_path / "state" / "clusters" / "broken").iterdir()}
    assert remaining == {"logs"}
    assert any("did not start" in m for m in messages)
    etcd_pids = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and str(tmp_path) in _cmdline(p)
    ]
    assert etcd_pids == [], "a process of the half-started cluster is still running"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_failed_build_step_names_step_and_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_CACHE_DIR", str(tmp_path))

    def failing(version: str, target: Path, work: Path, log: Path, progress: toolchain.Progress) -> None:
        work.mkdir(parents=True, exist_ok=True)
        toolchain._run_step(
            f"compile thing {version}",
            ["sh", "-c", "echo boom >&2; exit 7"],
            cwd=work,
            log=log,
            progress=progress,
        )

    with pytest.raises(toolchain.BuildError) as caught:
        toolchain._ensure_component("thing", ("v1", "v2"), failing, lambda _m: None)
    message = str(caught.value)
    assert "could not build thing" in message
    for version in ("v1", "v2"):
        log = tmp_path / "logs" / f"build-thing-{version}.log"
        assert f"compile thing {version} (exit 7)" in message
        assert str(log) in message
        assert "boom" in log.read_text()
    assert not (tmp_path / "thing-v1" / toolchain.COMPLETE_MARKER).exists()


def test_build_falls_back_to_the_next_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGOSY_CACHE_DIR", str(tmp_path))
    built: list[str] = []

    def builder(version: str, target: Path, work: Path, log: Path, progress: toolchain.Progress) -> None:
        if version == "v1":
            raise toolchain.BuildError(f"v1 does not resolve; see {log}")
        (target / "bin").mkdir(parents=True)
        built.append(version)

    version, target = toolchain._ensure_component("thing", ("v1", "v2"), builder, lambda _m: None)
    assert (version, target) == ("v2", tmp_path / "thing-v2")
    # The next call finds the cached build and builds nothing.
    assert toolchain._ensure_component("thing", ("v1", "v2"), builder, lambda _m: None)[0] == "v2"
    assert built == ["v2"]


def test_staging_replaces_come_from_upstream_go_mod() -> None:
    go_mod = (
        "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/kms => ./staging/src/k8s.io/kms\n)\n"
    )
    assert toolchain._staging_replaces(go_mod) == ["k8s.io/api", "k8s.io/kms"]
    assert not plane.pid_alive(2**22 + 12345)
    assert plane.pid_alive(os.getpid())
