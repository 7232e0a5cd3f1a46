"""An asyncio Git client over the ``git`` command line: ls-remote, resolve, fetch, read-only checkouts.

Cache layout under ``cache_root`` (see docs/git.md)::

    repos/<key>/          bare repository for one normalised URL (key = sha256 of it, 32 hex digits)
    checkouts/<key>/<sha> read-only tree of one commit ("<sha>-lfs" with LFS files smudged)
    locks/<key>.lock      fcntl lock shared by every process using this cache root
    ssh/known_hosts       from argocd-ssh-known-hosts-cm (empty: every SSH host is refused)
    tls/<host>.pem        from argocd-tls-certs-cm
    tmp/                  working directory for commands that need no repository

Credentials never reach an argument list, a log line or an error message: HTTP credentials travel as
an ``http.extraHeader`` set through ``GIT_CONFIG_*`` environment variables, SSH keys through a 0600
file in a private temporary directory removed after the command, and every message is scrubbed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import ssl
import stat
import tempfile
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from argosy.adapters.git import smarthttp
from argosy.adapters.git.errors import (
    UNADVERTISED,
    GitError,
    GitErrorKind,
    Scrubber,
    classify_stderr,
    summarize_stderr,
)
from argosy.model.repository import (
    CommitMetadata,
    RepoCredentials,
    ResolvedRevision,
    SSHKnownHost,
    normalize_repo_url,
    redact_url,
    repo_url_host,
    strip_url_password,
)
from argosy.ports.metrics import GitRequestObserver

__all__ = ["DEFAULT_RESOLUTION_TTL", "DEFAULT_TIMEOUT", "GitClient", "GitStats"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 90.0  # seconds per git command, Argo CD's ARGOCD_EXEC_TIMEOUT
DEFAULT_RESOLUTION_TTL = 180.0  # seconds a branch/tag resolution is reused (Argo CD: 3m revision cache)

FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
SHORT_SHA = re.compile(r"^[0-9a-fA-F]{4,63}$")
_ALLOWED_SCHEMES = ("https://", "http://", "ssh://", "git://")
_SCP_LIKE = re.compile(r"^[^@/:]+@[^@/:]+:")
_LOCK_POLL_SECONDS = 0.02
_LFS_FILTER = (
    ("filter.lfs.required", "true"),
    ("filter.lfs.process", "git-lfs filter-process"),
    ("filter.lfs.smudge", "git-lfs smudge -- %f"),
    ("filter.lfs.clean", "git-lfs clean -- %f"),
)


@dataclass(slots=True)
class GitStats:
    """Counts of what the client did, for metrics and for tests (network commands are the first two)."""

    ls_remote: int = 0
    fetch: int = 0
    fetch_skipped: int = 0
    resolve_cache_hits: int = 0
    checkout: int = 0
    checkout_reused: int = 0
    lfs_fetch: int = 0


@dataclass(slots=True)
class _Resolution:
    resolved: ResolvedRevision
    at: float


@dataclass(slots=True)
class _Invocation:
    """Environment and scrubber for one command; temporary files live in ``tmpdir``."""

    env: dict[str, str]
    scrub: Scrubber
    config: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Result:
    returncode: int
    stdout: str
    stderr: str


def _url_has_userinfo(url: str) -> bool:
    """A ``user:password@`` in the URL: leave those to git, which knows how to use them."""
    rest = url.split("://", 1)[1]
    return "@" in rest.split("/", 1)[0]


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def _write_atomic(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)


def _make_read_only(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in [*filenames, *dirnames]:
            path = Path(dirpath, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(stat.S_IMODE(mode) & ~0o222)
    root.chmod(stat.S_IMODE(root.stat().st_mode) & ~0o222)


def _make_writable(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for name in dirnames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o700)
    with contextlib.suppress(FileNotFoundError):
        root.chmod(stat.S_IMODE(root.stat().st_mode) | 0o700)


def _remove_tree(root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        _make_writable(root)
        shutil.rmtree(root)


def _match_ref(refs: Mapping[str, str], revision: str) -> tuple[str, str] | None:
    """(ref, commit) for a revision, Argo CD-style: exact ref, then branch, then tag (peeled)."""
    for ref in (revision, f"refs/heads/{revision}", f"refs/tags/{revision}"):
        if ref in refs:
            return ref, refs.get(f"{ref}^{{}}", refs[ref])
    return None


class GitClient:
    """Git access for one cache root, safe for concurrent tasks and for several processes.

    ``known_hosts`` and ``tls_certs`` are the parsed ``argocd-ssh-known-hosts-cm`` and
    ``argocd-tls-certs-cm`` (``argosy.core.repocreds``); update them with :meth:`set_known_hosts`
    and :meth:`set_tls_certs`. ``extra_config`` adds ``git -c`` style settings (e.g.
    ``("protocol.version", "0")``) below the client's own. ``clock`` is monotonic seconds.
    ``observer`` is told about each ls-remote and fetch (``argocd_git_request_*``; docs/metrics.md).
    """

    def __init__(
        self,
        cache_root: Path,
        *,
        known_hosts: Iterable[SSHKnownHost] = (),
        tls_certs: Mapping[str, Sequence[str]] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        resolution_ttl: float = DEFAULT_RESOLUTION_TTL,
        git: str = "git",
        ssh: str = "ssh",
        extra_config: Sequence[tuple[str, str]] = (),
        clock: Callable[[], float] = time.monotonic,
        observer: GitRequestObserver | None = None,
    ) -> None:
        self.cache_root = Path(cache_root).resolve()
        self.observer = observer
        self.timeout = timeout
        self.resolution_ttl = resolution_ttl
        self.stats = GitStats()
        self._git = git
        self._extra_config = list(extra_config)
        self._ssh = ssh
        self._clock = clock
        self._resolutions: dict[tuple[str, str], _Resolution] = {}
        self._commit_metadata: dict[str, CommitMetadata] = {}
        self._generations: dict[str, int] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )
        self._tls_files: dict[str, Path] = {}
        self._ssl_contexts: dict[str, ssl.SSLContext] = {}
        for sub in ("repos", "checkouts", "locks", "ssh", "tls", "tmp"):
            (self.cache_root / sub).mkdir(parents=True, exist_ok=True)
        self.set_known_hosts(known_hosts)
        self.set_tls_certs(tls_certs or {})

    # -- configuration ---------------------------------------------------------------------------

    @property
    def known_hosts_file(self) -> Path:
        return self.cache_root / "ssh" / "known_hosts"

    def set_known_hosts(self, entries: Iterable[SSHKnownHost]) -> None:
        """Replace the trusted SSH host keys (written to :attr:`known_hosts_file`)."""
        lines = [entry.line() for entry in entries]
        _write_atomic(self.known_hosts_file, "".join(f"{line}\n" for line in lines))

    def set_tls_certs(self, certs: Mapping[str, Sequence[str]]) -> None:
        """Replace the per-host CA certificates (host name -> PEM certificates)."""
        files: dict[str, Path] = {}
        for host, pems in certs.items():
            name = host.strip().lower()
            if not name or "/" in name or name.startswith("."):
                continue
            path = self.cache_root / "tls" / f"{name}.pem"
            _write_atomic(path, "".join(pem if pem.endswith("\n") else pem + "\n" for pem in pems))
            files[name] = path
        for stale in (self.cache_root / "tls").glob("*.pem"):
            if stale.stem not in files:
                stale.unlink(missing_ok=True)
        self._tls_files = files
        self._ssl_contexts.clear()  # a CA file may have new content under the same name

    # -- paths and locks -------------------------------------------------------------------------

    @staticmethod
    def cache_key(url: str) -> str:
        """32 hex digits naming the cache entries of a repository (sha256 of its normalised URL)."""
        return hashlib.sha256(normalize_repo_url(url).encode()).hexdigest()[:32]

    def repo_dir(self, url: str) -> Path:
        return self.cache_root / "repos" / self.cache_key(url)

    def _asyncio_lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        locks = self._locks.setdefault(loop, {})
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def _file_lock(self, key: str) -> AsyncIterator[None]:
        path = self.cache_root / "locks" / f"{key}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    await asyncio.sleep(_LOCK_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextlib.asynccontextmanager
    async def _repo_lock(self, key: str) -> AsyncIterator[None]:
        async with self._asyncio_lock(key), self._file_lock(key):
            yield

    # -- environment -----------------------------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "SSH_"))}
        no_proxy = ",".join(
            p for p in (env.get("NO_PROXY") or env.get("no_proxy"), "127.0.0.1,localhost") if p
        )
        env.update(
            LC_ALL="C",
            LANGUAGE="C",
            NO_PROXY=no_proxy,
            no_proxy=no_proxy,
            GIT_TERMINAL_PROMPT="0",
            GIT_ASKPASS="",
            SSH_ASKPASS="",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CEILING_DIRECTORIES=str(self.cache_root),
            GIT_LFS_SKIP_SMUDGE="1",
        )
        return env

    @contextlib.contextmanager
    def _invocation(self, url: str, creds: RepoCredentials | None) -> Iterator[_Invocation]:
        """Environment for talking to ``url`` with ``creds``; key files are removed on exit."""
        creds = creds or RepoCredentials(url=url)
        inv = _Invocation(env=self._base_env(), scrub=Scrubber.for_credentials(creds))
        inv.config += [
            *self._extra_config,  # first: the settings below win over them
            ("protocol.allow", "never"),
            *((f"protocol.{scheme}.allow", "always") for scheme in ("https", "http", "ssh", "git")),
            ("gc.auto", "0"),
            ("credential.helper", ""),
            ("core.hooksPath", os.devnull),
        ]
        tmpdir = Path(tempfile.mkdtemp(prefix="argosy-git-", dir=self.cache_root / "tmp"))
        try:
            if creds.bearer_token:
                inv.config.append(("http.extraHeader", f"Authorization: Bearer {creds.bearer_token}"))
            elif creds.username or creds.password:
                pair = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
                inv.config.append(("http.extraHeader", f"Authorization: Basic {pair}"))
            if creds.insecure:
                inv.config.append(("http.sslVerify", "false"))
            host, _ = repo_url_host(url)
            ca_file = self._tls_files.get(host)
            if ca_file is not None:
                inv.config.append(("http.sslCAInfo", str(ca_file)))
            if creds.tls_client_cert_data and creds.tls_client_cert_key:
                cert, key = tmpdir / "client.crt", tmpdir / "client.key"
                _write_private(cert, creds.tls_client_cert_data)
                _write_private(key, creds.tls_client_cert_key)
                inv.config += [("http.sslCert", str(cert)), ("http.sslKey", str(key))]
            ssh = [self._ssh, "-F", os.devnull, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
            ssh += [
                "-o",
                "BatchMode=yes",
                "-o",
                "UpdateHostKeys=no",
                "-o",
                f"GlobalKnownHostsFile={os.devnull}",
            ]
            ssh += ["-o", f"ConnectTimeout={max(1, int(self.timeout))}"]
            if creds.ssh_private_key:
                key_file = tmpdir / "id_key"
                key_text = creds.ssh_private_key.replace("\r\n", "\n")
                _write_private(key_file, key_text if key_text.endswith("\n") else key_text + "\n")
                ssh += ["-i", str(key_file)]
            if creds.insecure:
                ssh += ["-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={os.devnull}"]
            else:
                ssh += [
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    f"UserKnownHostsFile={self.known_hosts_file}",
                ]
            inv.env["GIT_SSH_COMMAND"] = shlex.join(ssh)
            inv.env["GIT_SSH_VARIANT"] = "ssh"
            if creds.enable_lfs:
                inv.config += list(_LFS_FILTER)
            yield inv
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    @staticmethod
    def _apply_config(env: dict[str, str], config: Sequence[tuple[str, str]]) -> dict[str, str]:
        env = dict(env)
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for index, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        return env

    # -- running git -----------------------------------------------------------------------------

    async def _run(
        self,
        args: Sequence[str],
        *,
        url: str,
        inv: _Invocation,
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        program: str | None = None,
    ) -> _Result:
        env = self._apply_config(inv.env, inv.config)
        if extra_env:
            env.update(extra_env)
        argv = [program or self._git, *args]
        log.debug("git %s (%s)", args[0] if args else "", redact_url(url))
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd or self.cache_root / "tmp"),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError as error:
            raise GitError(
                url, GitErrorKind.UNSUPPORTED, f"{argv[0]} is not installed", scrubber=inv.scrub
            ) from error
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self.timeout)
        except TimeoutError:
            await self._kill(process)
            raise GitError(
                url,
                GitErrorKind.TIMEOUT,
                f"git {args[0]} took longer than {self.timeout:g}s",
                scrubber=inv.scrub,
            ) from None
        except BaseException:
            await self._kill(process)
            raise
        assert process.returncode is not None
        return _Result(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    @staticmethod
    async def _kill(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _fail(self, url: str, result: _Result, inv: _Invocation, what: str) -> GitError:
        kind = classify_stderr(result.stderr)
        detail = f"{what}: {summarize_stderr(result.stderr) or f'exit code {result.returncode}'}"
        return GitError(url, kind, detail, scrubber=inv.scrub)

    @staticmethod
    def _check_url(url: str) -> None:
        if url.startswith("-") or not (url.startswith(_ALLOWED_SCHEMES) or _SCP_LIKE.match(url)):
            raise GitError(
                url,
                GitErrorKind.UNSUPPORTED,
                "only https, http, ssh, git and user@host:path URLs are supported",
            )

    # -- remote operations -----------------------------------------------------------------------

    async def ls_remote(self, url: str, creds: RepoCredentials | None = None) -> dict[str, str]:
        """Every ref the server advertises -> SHA (annotated tags also as ``refs/tags/<t>^{}``)."""
        self._check_url(url)
        with self._invocation(url, creds) as inv:
            return await self._ls_remote(url, inv)

    def _smart_http_settings(
        self, url: str, inv: _Invocation
    ) -> tuple[dict[str, str], ssl.SSLContext | bool] | None:
        """Headers and TLS verification for an in-process ls-remote, from the same settings the CLI
        would get; ``None`` when something only the CLI handles is configured (client certificates,
        proxies, other ``http.*`` options)."""
        if not url.startswith(("https://", "http://")) or _url_has_userinfo(url):
            return None
        headers: dict[str, str] = {"Git-Protocol": "version=0", "User-Agent": "git/argosy"}
        verify: ssl.SSLContext | bool = True
        ca_file: str | None = None
        for key, value in inv.config:
            lowered = key.lower()
            if lowered == "http.extraheader":
                name, _, header_value = value.partition(":")
                headers[name.strip()] = header_value.strip()
            elif lowered == "http.sslverify":
                verify = value.lower() not in ("false", "0", "no", "off")
            elif lowered == "http.sslcainfo":
                ca_file = value
            elif lowered.startswith("http."):
                return None
        if verify is True and url.startswith("https://"):
            cache_key = ca_file or ""
            context = self._ssl_contexts.get(cache_key)
            if context is None:
                # Loading the CA bundle costs milliseconds: build each context once.
                context = ssl.create_default_context(cafile=ca_file)
                self._ssl_contexts[cache_key] = context
            verify = context
        return headers, verify

    def _observe(
        self, url: str, request_type: str, started: float, *, failed: bool, revision: str = ""
    ) -> None:
        if self.observer is None:
            return
        with contextlib.suppress(Exception):  # metrics never break a request
            self.observer.record_git_request(
                url, request_type, time.perf_counter() - started, failed=failed, revision=revision
            )

    async def _ls_remote(self, url: str, inv: _Invocation) -> dict[str, str]:
        started = time.perf_counter()
        try:
            refs = await self._ls_remote_unobserved(url, inv)
        except Exception:
            self._observe(url, "ls-remote", started, failed=True)
            raise
        self._observe(url, "ls-remote", started, failed=False)
        return refs

    async def _ls_remote_unobserved(self, url: str, inv: _Invocation) -> dict[str, str]:
        self.stats.ls_remote += 1
        settings = self._smart_http_settings(url, inv)
        if settings is not None:
            headers, verify = settings
            advertised = await smarthttp.ls_remote(
                url, headers=headers, verify=verify, timeout=self.timeout, scrub=inv.scrub
            )
            if advertised is not None:
                return advertised
        # Protocol v0 by default (Argo CD's go-git speaks v0): the server advertises every ref in its
        # first answer, where v2 adds a round trip that costs ~45 ms against `git daemon` here.
        # A protocol.version in ``extra_config`` still wins, since it comes later.
        v0 = replace(inv, config=[("protocol.version", "0"), *inv.config])
        result = await self._run(["ls-remote", "--", strip_url_password(url)], url=url, inv=v0)
        if result.returncode != 0:
            raise self._fail(url, result, inv, "ls-remote")
        refs: dict[str, str] = {}
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if sha and ref:
                refs[ref.strip()] = sha.strip()
        return refs

    async def resolve(
        self,
        url: str,
        target_revision: str,
        creds: RepoCredentials | None = None,
        *,
        refresh: bool = False,
    ) -> ResolvedRevision:
        """Pin a branch, tag (peeled to its commit), ``HEAD``/empty or SHA (full or short) to a commit.

        Branch and tag resolutions are reused for ``resolution_ttl`` seconds unless ``refresh`` is set
        or :meth:`mark_stale` was called; a full SHA is returned as is; a short SHA is looked up in the
        local cache, fetching all branches and tags first when it is not there yet.
        """
        self._check_url(url)
        revision = (target_revision or "").strip() or "HEAD"
        clean_url = strip_url_password(url)
        if FULL_SHA.match(revision.lower()):
            return ResolvedRevision(clean_url, target_revision, revision.lower())
        key = self.cache_key(url)
        async with self._asyncio_lock(key):
            cached = self._resolutions.get((key, revision))
            if (
                cached is not None
                and not refresh
                and self._clock() - cached.at < self.resolution_ttl
                and cached.resolved.repo_url == clean_url
            ):
                self.stats.resolve_cache_hits += 1
                return ResolvedRevision(clean_url, target_revision, cached.resolved.sha, cached.resolved.ref)
            generation = self._generations.get(key, 0)
            with self._invocation(url, creds) as inv:
                refs = await self._ls_remote(url, inv)
                match = _match_ref(refs, revision)
                if match is not None:
                    resolved = ResolvedRevision(clean_url, target_revision, match[1], match[0])
                elif SHORT_SHA.match(revision):
                    async with self._file_lock(key):
                        sha = await self._resolve_short_sha(url, revision.lower(), inv)
                    resolved = ResolvedRevision(clean_url, target_revision, sha)
                else:
                    raise GitError(
                        url,
                        GitErrorKind.REVISION_NOT_FOUND,
                        f"{revision!r} is not a branch, tag or commit of this repository",
                        scrubber=inv.scrub,
                    )
            if self._generations.get(key, 0) == generation:
                self._resolutions[(key, revision)] = _Resolution(resolved, self._clock())
            return resolved

    def mark_stale(self, url: str, branch: str | None = None) -> None:
        """Forget cached resolutions of ``url`` (only those that may follow ``branch``, when given).

        For Git webhooks: the next :meth:`resolve` asks the server again. ``HEAD`` and the empty
        revision are always forgotten since they follow the default branch.
        """
        key = self.cache_key(url)
        self._generations[key] = self._generations.get(key, 0) + 1
        names: set[str] | None = None
        if branch:
            short = branch.removeprefix("refs/heads/")
            names = {short, f"refs/heads/{short}", "HEAD"}
        for cache_key, revision in list(self._resolutions):
            if cache_key == key and (names is None or revision in names):
                del self._resolutions[(cache_key, revision)]

    # -- local cache -----------------------------------------------------------------------------

    async def _ensure_repo(self, url: str, inv: _Invocation) -> Path:
        """The bare cache repository for ``url``, created on first use (call with the repo lock held)."""
        repo = self.repo_dir(url)
        if (repo / "argosy-url").is_file():
            return repo
        repo.mkdir(parents=True, exist_ok=True)
        commands = [
            ["init", "-q", "--bare", str(repo)],
            ["--git-dir", str(repo), "config", "remote.origin.url", strip_url_password(url)],
            ["--git-dir", str(repo), "config", "gc.auto", "0"],
        ]
        for args in commands:
            result = await self._run(args, url=url, inv=inv)
            if result.returncode != 0:
                raise self._fail(url, result, inv, "init")
        _write_atomic(repo / "argosy-url", redact_url(url) + "\n")
        return repo

    async def _has_commit(self, repo: Path, sha: str, url: str, inv: _Invocation) -> bool:
        if not (repo / "HEAD").is_file():
            return False
        result = await self._run(
            ["--git-dir", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"], url=url, inv=inv
        )
        return result.returncode == 0

    async def _is_shallow(self, repo: Path) -> bool:
        return (repo / "shallow").is_file()

    async def _fetch_all(self, url: str, repo: Path, inv: _Invocation) -> None:
        """Fetch every branch and tag with full history (the fallback, and for short SHAs)."""
        args = ["--git-dir", str(repo), "fetch", "--quiet", "--force", "--no-write-fetch-head"]
        if await self._is_shallow(repo):
            args.append("--unshallow")
        args += ["origin", "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        self.stats.fetch += 1
        started = time.perf_counter()
        result = await self._run(args, url=url, inv=inv)
        self._observe(url, "fetch", started, failed=result.returncode != 0)
        if result.returncode != 0:
            raise self._fail(url, result, inv, "fetch")

    async def _resolve_short_sha(self, url: str, short: str, inv: _Invocation) -> str:
        repo = await self._ensure_repo(url, inv)

        async def lookup() -> _Result:
            return await self._run(
                ["--git-dir", str(repo), "rev-parse", "--verify", "--quiet", f"{short}^{{commit}}"],
                url=url,
                inv=inv,
            )

        result = await lookup()
        if result.returncode != 0:
            await self._fetch_all(url, repo, inv)
            result = await lookup()
        if result.returncode != 0:
            ambiguous = "ambiguous" in result.stderr
            detail = (
                f"short SHA {short!r} is {'ambiguous' if ambiguous else 'not a commit of this repository'}"
            )
            raise GitError(url, GitErrorKind.REVISION_NOT_FOUND, detail, scrubber=inv.scrub)
        return result.stdout.strip()

    async def commit_metadata(self, url: str, sha: str) -> CommitMetadata | None:
        """Author, committer date and message of commit ``sha`` of ``url`` from the local cache.

        Nothing goes over the network: ``None`` when the commit has not been fetched (or ``sha`` is
        not a full SHA). Commits never change, so answers are kept (the newest 4,096).
        """
        self._check_url(url)
        sha = sha.strip().lower()
        if not FULL_SHA.match(sha):
            return None
        known = self._commit_metadata.get(sha)
        if known is not None:
            return known
        repo = self.repo_dir(url)
        if not (repo / "HEAD").is_file():
            return None
        with self._invocation(url, None) as inv:
            result = await self._run(
                [
                    "--git-dir",
                    str(repo),
                    "log",
                    "-1",
                    "--no-show-signature",
                    "--format=%an <%ae>%x00%cI%x00%B",
                    sha,
                ],
                url=url,
                inv=inv,
            )
        author, _, rest = result.stdout.partition("\0")
        date, _, message = rest.partition("\0")
        if result.returncode != 0 or not date:
            return None
        try:
            committed_at = datetime.fromisoformat(date.strip())
        except ValueError:
            return None
        metadata = CommitMetadata(
            sha=sha, author=author.strip(), committed_at=committed_at, message=message.strip()
        )
        if len(self._commit_metadata) >= 4096:
            self._commit_metadata.pop(next(iter(self._commit_metadata)))
        self._commit_metadata[sha] = metadata
        return metadata

    async def fetch(self, url: str, sha: str, creds: RepoCredentials | None = None) -> None:
        """Make commit ``sha`` available locally; nothing goes over the network if it already is.

        Tries ``git fetch --depth=1 origin <sha>``; a server that refuses unadvertised objects gets a
        full fetch of its branches and tags instead. With ``creds.enable_lfs`` the commit's LFS objects
        are fetched too.
        """
        self._check_url(url)
        sha = sha.strip().lower()
        if not FULL_SHA.match(sha):
            raise GitError(url, GitErrorKind.REVISION_NOT_FOUND, f"{sha!r} is not a full commit SHA")
        key = self.cache_key(url)
        async with self._repo_lock(key):
            with self._invocation(url, creds) as inv:
                repo = await self._ensure_repo(url, inv)
                if await self._has_commit(repo, sha, url, inv):
                    self.stats.fetch_skipped += 1
                else:
                    await self._fetch_commit(url, repo, sha, inv)
                if creds is not None and creds.enable_lfs:
                    await self._lfs_fetch(url, repo, sha, inv)

    async def _fetch_commit(self, url: str, repo: Path, sha: str, inv: _Invocation) -> None:
        args = ["--git-dir", str(repo), "fetch", "--quiet", "--force", "--no-tags", "--no-write-fetch-head"]
        args += ["--depth=1", "origin", f"+{sha}:refs/argosy/commits/{sha}"]
        self.stats.fetch += 1
        started = time.perf_counter()
        result = await self._run(args, url=url, inv=inv)
        # A server that refuses unadvertised objects is not a failure: the full fetch below follows.
        refused = result.returncode != 0 and bool(UNADVERTISED.search(result.stderr))
        self._observe(url, "fetch", started, failed=result.returncode != 0 and not refused, revision=sha)
        if result.returncode != 0:
            kind = classify_stderr(result.stderr)
            if kind in (
                GitErrorKind.AUTHENTICATION,
                GitErrorKind.HOST_KEY,
                GitErrorKind.REPOSITORY_NOT_FOUND,
            ):
                raise self._fail(url, result, inv, "fetch")
            if not UNADVERTISED.search(result.stderr) and kind is not GitErrorKind.REVISION_NOT_FOUND:
                raise self._fail(url, result, inv, "fetch")
            log.debug("fetch by SHA refused by %s, fetching branches and tags", redact_url(url))
            await self._fetch_all(url, repo, inv)
        if not await self._has_commit(repo, sha, url, inv):
            raise GitError(
                url,
                GitErrorKind.REVISION_NOT_FOUND,
                f"commit {sha} is not in this repository",
                scrubber=inv.scrub,
            )
        update = ["--git-dir", str(repo), "update-ref", f"refs/argosy/commits/{sha}", sha]
        await self._run(update, url=url, inv=inv)

    async def _lfs_fetch(self, url: str, repo: Path, sha: str, inv: _Invocation) -> None:
        marker = repo / "argosy-lfs" / sha
        if marker.is_file():
            return
        self.stats.lfs_fetch += 1
        result = await self._run(["--git-dir", str(repo), "lfs", "fetch", "origin", sha], url=url, inv=inv)
        if result.returncode != 0:
            if "is not a git command" in result.stderr:
                raise GitError(url, GitErrorKind.UNSUPPORTED, "git-lfs is not installed", scrubber=inv.scrub)
            raise self._fail(url, result, inv, "lfs fetch")
        marker.parent.mkdir(exist_ok=True)
        marker.touch()

    async def checkout(self, url: str, sha: str, *, lfs: bool = False) -> Path:
        """A read-only directory holding the tree of commit ``sha`` (fetched before); reused when present.

        With ``lfs`` the LFS pointer files are replaced by their content (fetch with ``enable_lfs``
        first). Nothing here talks to the server.
        """
        sha = sha.strip().lower()
        if not FULL_SHA.match(sha):
            raise GitError(url, GitErrorKind.REVISION_NOT_FOUND, f"{sha!r} is not a full commit SHA")
        key = self.cache_key(url)
        dest = self.cache_root / "checkouts" / key / (f"{sha}-lfs" if lfs else sha)
        if dest.is_dir():
            self.stats.checkout_reused += 1
            return dest
        async with self._repo_lock(key):
            if dest.is_dir():
                self.stats.checkout_reused += 1
                return dest
            creds = RepoCredentials(url=url, enable_lfs=lfs)
            with self._invocation(url, creds) as inv:
                repo = self.repo_dir(url)
                if not await self._has_commit(repo, sha, url, inv):
                    raise GitError(
                        url,
                        GitErrorKind.REVISION_NOT_FOUND,
                        f"commit {sha} is not in the local cache (fetch it first)",
                        scrubber=inv.scrub,
                    )
                await self._extract(url, repo, sha, dest, inv, lfs=lfs)
        self.stats.checkout += 1
        return dest

    async def _extract(
        self, url: str, repo: Path, sha: str, dest: Path, inv: _Invocation, *, lfs: bool
    ) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex}"
        index = repo / f"argosy-index-{uuid.uuid4().hex}"
        tmp.mkdir()
        extra = {"GIT_INDEX_FILE": str(index)}
        if lfs:
            extra["GIT_LFS_SKIP_SMUDGE"] = "0"
        base = ["--git-dir", str(repo), "--work-tree", str(tmp)]
        try:
            for args in (["read-tree", f"{sha}^{{tree}}"], ["checkout-index", "--all", "--force"]):
                result = await self._run([*base, *args], url=url, inv=inv, cwd=tmp, extra_env=extra)
                if result.returncode != 0:
                    raise self._fail(url, result, inv, "checkout")
            await asyncio.to_thread(_make_read_only, tmp)
            tmp.rename(dest)
        except BaseException:
            await asyncio.to_thread(_remove_tree, tmp)
            raise
        finally:
            index.unlink(missing_ok=True)

    async def prepare(
        self, url: str, target_revision: str, creds: RepoCredentials | None = None, *, refresh: bool = False
    ) -> tuple[ResolvedRevision, Path]:
        """Resolve, fetch and check out in one call: what a renderer needs."""
        resolved = await self.resolve(url, target_revision, creds, refresh=refresh)
        await self.fetch(url, resolved.sha, creds)
        path = await self.checkout(url, resolved.sha, lfs=bool(creds and creds.enable_lfs))
        return resolved, path
