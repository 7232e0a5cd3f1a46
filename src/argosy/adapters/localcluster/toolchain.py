"""Build the control-plane binaries from the Go module proxy and cache them outside the repository.

Each component is built into ``<cache>/<component>-<version>/`` and marked complete only after
every file is in place, so an interrupted build is simply redone. ``ARGOSY_CACHE_DIR`` moves the
cache (default ``~/.cache/argosy``). Nothing here downloads a prebuilt binary: only ``go`` talks to
the module proxy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Progress = Callable[[str], None]

# Preferred version first; the others are tried when a version does not resolve on the proxy.
KUBERNETES_VERSIONS = ("v1.36.3", "v1.37.2")
ETCD_VERSIONS = ("v3.6.16", "v3.6.15")
KWOK_VERSIONS = ("v0.8.0",)
HELM_VERSIONS = ("v3.22.0",)

K8S_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# kwok v0.8.0 ships no default stages: these files are copied out of its module at build time.
KWOK_STAGE_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
    "pod/chaos/pod-container-running-failed.yaml",
)
COMPLETE_MARKER = "complete.json"
HEARTBEAT_SECONDS = 30.0


class BuildError(RuntimeError):
    """A build step failed; the message names the step and its log file."""


@dataclass(frozen=True, slots=True)
class Toolchain:
    """Paths of the built binaries and the kwok stage files."""

    bin_dir: Path
    kubernetes_version: str
    etcd_version: str
    kwok_version: str
    helm_version: str
    kwok_stages: tuple[Path, ...]

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


def cache_root() -> Path:
    override = os.environ.get("ARGOSY_CACHE_DIR")
    if override:
        return Path(override)
    return Path.home() / ".cache" / "argosy"


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # A stray toolchain line must fail loudly, never fetch a toolchain; statics like upstream.
    env["GOTOOLCHAIN"] = "local"
    env["CGO_ENABLED"] = "0"
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    return env


def _run_step(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    progress: Progress,
    env: dict[str, str] | None = None,
) -> str:
    """Run one build command, appending its output to ``log``; heartbeat while it runs."""
    progress(f"  {step} ...")
    started = time.monotonic()
    with log.open("a", encoding="utf-8") as sink:
        sink.write(f"\n$ {' '.join(argv)}  (in {cwd})\n")
        sink.flush()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=sink, env=env or _go_env(), text=True
        )
        done = threading.Event()

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                elapsed = int(time.monotonic() - started)
                progress(f"    still running: {step} ({elapsed // 60}m{elapsed % 60:02d}s, log: {log})")

        beat = threading.Thread(target=heartbeat, daemon=True)
        beat.start()
        out, _ = proc.communicate()
        done.set()
        sink.write(out)
    if proc.returncode != 0:
        raise BuildError(f"build step failed: {step} (exit {proc.returncode}); see the log: {log}")
    elapsed = time.monotonic() - started
    progress(f"  {step}: done in {elapsed:.0f}s")
    return out


def _staging_replaces(go_mod_text: str) -> list[str]:
    """Module paths that k8s.io/kubernetes resolves from ./staging: each needs a replace of ours."""
    return sorted(set(re.findall(r"^\s*(k8s\.io/[\w.\-]+)\s*=>\s*\./staging/", go_mod_text, re.MULTILINE)))


def _version_ldflags(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    build_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    return " ".join(flags)


def _is_complete(target: Path) -> bool:
    return (target / COMPLETE_MARKER).is_file()


def _mark_complete(target: Path, info: dict[str, object]) -> None:
    (target / COMPLETE_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _build_kubernetes(version: str, target: Path, work: Path, log: Path, progress: Progress) -> None:
    work.mkdir(parents=True, exist_ok=True)
    info = json.loads(
        _run_step(
            f"download k8s.io/kubernetes@{version}",
            ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
            cwd=work,
            log=log,
            progress=progress,
        )
    )
    upstream_go_mod = Path(info["GoMod"]).read_text(encoding="utf-8")
    staging = _staging_replaces(upstream_go_mod)
    if not staging:
        raise BuildError(f"no staging modules found in k8s.io/kubernetes@{version}'s go.mod; see {log}")
    staging_version = "v0." + version.lstrip("v").split(".", 1)[1]
    replaces = "".join(f"\t{mod} => {mod} {staging_version}\n" for mod in staging)
    (work / "go.mod").write_text(
        f"module local/argosy-k8s-bins\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes {version}\n\n"
        f"replace (\n{replaces})\n",
        encoding="utf-8",
    )
    (work / "go.sum").unlink(missing_ok=True)
    # The explicit @version matters: a bare `go get -tool pkg` would upgrade k8s.io/kubernetes.
    _run_step(
        f"resolve dependencies of Kubernetes {version} ({len(staging)} staging modules)",
        ["go", "get", "-tool", *(f"k8s.io/kubernetes/cmd/{cmd}@{version}" for cmd in K8S_COMMANDS)],
        cwd=work,
        log=log,
        progress=progress,
    )
    _run_step("go mod tidy", ["go", "mod", "tidy"], cwd=work, log=log, progress=progress)
    out_dir = target / "bin"
    out_dir.mkdir(parents=True, exist_ok=True)
    _run_step(
        f"compile {', '.join(K8S_COMMANDS)} {version} (the longest step: about 5 minutes cold on 2 cores)",
        [
            "go",
            "build",
            "-trimpath",
            "-tags=selinux,notest,grpcnotrace",
            f"-ldflags={_version_ldflags(version)}",
            "-o",
            f"{out_dir}/",
            *(f"k8s.io/kubernetes/cmd/{cmd}" for cmd in K8S_COMMANDS),
        ],
        cwd=work,
        log=log,
        progress=progress,
    )


def _build_etcd(version: str, target: Path, work: Path, log: Path, progress: Progress) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text("module local/argosy-etcd-bins\n\ngo 1.26.0\n", encoding="utf-8")
    (work / "go.sum").unlink(missing_ok=True)
    _run_step(
        f"resolve etcd {version}",
        [
            "go",
            "get",
            "-tool",
            f"go.etcd.io/etcd/server/v3@{version}",
            f"go.etcd.io/etcd/etcdctl/v3@{version}",
        ],
        cwd=work,
        log=log,
        progress=progress,
    )
    out_dir = target / "bin"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, pkg in (("etcd", "go.etcd.io/etcd/server/v3"), ("etcdctl", "go.etcd.io/etcd/etcdctl/v3")):
        _run_step(
            f"compile {name} {version}",
            ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out_dir / name), pkg],
            cwd=work,
            log=log,
            progress=progress,
        )


def _build_kwok(version: str, target: Path, work: Path, log: Path, progress: Progress) -> None:
    work.mkdir(parents=True, exist_ok=True)
    out_dir = target / "bin"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _go_env()
    env["GOBIN"] = str(out_dir)
    env["GOFLAGS"] = "-buildvcs=false"
    _run_step(
        f"compile kwok {version}",
        ["go", "install", "-trimpath", "-ldflags=-s -w", f"sigs.k8s.io/kwok/cmd/kwok@{version}"],
        cwd=work,
        log=log,
        progress=progress,
        env=env,
    )
    info = json.loads(
        _run_step(
            f"locate kwok {version} stages",
            ["go", "mod", "download", "-json", f"sigs.k8s.io/kwok@{version}"],
            cwd=work,
            log=log,
            progress=progress,
            env=env,
        )
    )
    stage_src = Path(info["Dir"]) / "kustomize" / "stage"
    stage_dst = target / "stages"
    stage_dst.mkdir(parents=True, exist_ok=True)
    for rel in KWOK_STAGE_FILES:
        dest = stage_dst / rel.replace("/", "--")
        shutil.copyfile(stage_src / rel, dest)
        dest.chmod(0o644)


def _build_helm(version: str, target: Path, work: Path, log: Path, progress: Progress) -> None:
    # Helm 3, not 4: kustomize --enable-helm still calls `helm version -c`, which Helm 4 removed.
    work.mkdir(parents=True, exist_ok=True)
    out_dir = target / "bin"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _go_env()
    env["GOBIN"] = str(out_dir)
    env["GOFLAGS"] = "-buildvcs=false"
    _run_step(
        f"compile helm {version}",
        [
            "go",
            "install",
            "-trimpath",
            f"-ldflags=-s -w -X helm.sh/helm/v3/internal/version.version={version}",
            f"helm.sh/helm/v3/cmd/helm@{version}",
        ],
        cwd=work,
        log=log,
        progress=progress,
        env=env,
    )


def _ensure_component(
    name: str,
    versions: Sequence[str],
    builder: Callable[[str, Path, Path, Path, Progress], None],
    progress: Progress,
) -> tuple[str, Path]:
    root = cache_root()
    for version in versions:
        target = root / f"{name}-{version}"
        if _is_complete(target):
            return version, target
    failures: list[str] = []
    for version in versions:
        target = root / f"{name}-{version}"
        work = root / "build" / f"{name}-{version}"
        log = root / "logs" / f"build-{name}-{version}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("", encoding="utf-8")
        progress(f"Building {name} {version} into {target} (log: {log})")
        try:
            builder(version, target, work, log, progress)
        except (BuildError, OSError, KeyError, ValueError) as exc:
            failures.append(f"{name} {version}: {exc}")
            progress(f"  {name} {version} failed: {exc}")
            continue
        _mark_complete(
            target, {"component": name, "version": version, "built": datetime.now(UTC).isoformat()}
        )
        return version, target
    raise BuildError("could not build " + name + ":\n  " + "\n  ".join(failures))


def ensure_toolchain(progress: Progress = print) -> Toolchain:
    """Return the cached binaries (control plane, kubectl, helm), building whatever is missing
    (about 8 minutes when cold on 2 cores)."""
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain (go) is not on PATH; it is needed to build the control plane")
    k8s_version, k8s_dir = _ensure_component("kubernetes", KUBERNETES_VERSIONS, _build_kubernetes, progress)
    etcd_version, etcd_dir = _ensure_component("etcd", ETCD_VERSIONS, _build_etcd, progress)
    kwok_version, kwok_dir = _ensure_component("kwok", KWOK_VERSIONS, _build_kwok, progress)
    helm_version, helm_dir = _ensure_component("helm", HELM_VERSIONS, _build_helm, progress)
    # One directory of links gives tools and users a single PATH entry.
    bin_dir = cache_root() / f"bin-k8s-{k8s_version}-etcd-{etcd_version}-kwok-{kwok_version}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for source in (k8s_dir / "bin", etcd_dir / "bin", kwok_dir / "bin", helm_dir / "bin"):
        for binary in source.iterdir():
            link = bin_dir / binary.name
            if link.is_symlink() or link.exists():
                if link.resolve() == binary.resolve():
                    continue
                link.unlink()
            link.symlink_to(binary)
    stages = tuple(sorted((kwok_dir / "stages").glob("*.yaml")))
    return Toolchain(
        bin_dir=bin_dir,
        kubernetes_version=k8s_version,
        etcd_version=etcd_version,
        kwok_version=kwok_version,
        helm_version=helm_version,
        kwok_stages=stages,
    )
