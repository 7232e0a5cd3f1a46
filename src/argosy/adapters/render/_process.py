"""Run helm/kubectl with a clean environment, a timeout that kills the process group, and an output cap."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from argosy.adapters.render._types import RenderError

__all__ = ["ToolFailed", "isolated_env", "run_tool"]

_STDERR_KEEP = 8 * 1024
_CHUNK = 64 * 1024


class ToolFailed(Exception):
    """The program exited non-zero; ``stderr`` holds the tail of its error output."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


def isolated_env(home: Path, tool_dirs: Sequence[Path] = ()) -> dict[str, str]:
    """An environment that shares nothing with the user's or with other renders.

    HOME, the XDG directories and every Helm directory point into ``home`` (a fresh temporary
    directory per render); KUBECONFIG points at a file that does not exist, so no cluster is used.
    """
    path = os.pathsep.join([*(str(d) for d in tool_dirs), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "HELM_CACHE_HOME": str(home / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(home / "helm" / "config"),
        "HELM_DATA_HOME": str(home / "helm" / "data"),
        "HELM_PLUGINS": str(home / "helm" / "plugins"),
        "HELM_REGISTRY_CONFIG": str(home / "helm" / "config" / "registry.json"),
        "HELM_REPOSITORY_CONFIG": str(home / "helm" / "config" / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "helm" / "cache" / "repository"),
        "KUBECONFIG": str(home / "no-kubeconfig"),
        "TMPDIR": str(home / "tmp"),
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class _TooMuchOutput(Exception):
    pass


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise _TooMuchOutput
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_tail(stream: asyncio.StreamReader) -> bytes:
    tail = b""
    while chunk := await stream.read(_CHUNK):
        tail = (tail + chunk)[-_STDERR_KEEP:]
    return tail


async def run_tool(
    argv: Sequence[str | Path],
    *,
    app: str,
    what: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    max_output: int,
) -> str:
    """Run ``argv`` and return its standard output as text.

    Raises :class:`RenderError` on timeout (the whole process group is killed), on output larger
    than ``max_output`` bytes, or when the program cannot be started; :class:`ToolFailed` when it
    exits non-zero.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *(str(a) for a in argv),
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise RenderError(app, f"{what}: cannot run {argv[0]}: {exc.strerror or exc}") from None
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            out, err = await asyncio.gather(_read_capped(proc.stdout, max_output), _read_tail(proc.stderr))
            returncode = await proc.wait()
    except TimeoutError:
        raise RenderError(app, f"{what} timed out after {timeout:g} s and was killed") from None
    except _TooMuchOutput:
        raise RenderError(app, f"{what} produced more than {max_output} bytes of output") from None
    finally:
        if proc.returncode is None:
            _kill_group(proc)
            with contextlib.suppress(ProcessLookupError):
                await proc.wait()
    if returncode != 0:
        raise ToolFailed(returncode, err.decode("utf-8", "replace").strip())
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise RenderError(app, f"{what} wrote output that is not UTF-8") from None
