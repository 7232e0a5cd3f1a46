"""The git CLI adapter against real Git servers on loopback (the ``git_server`` fixture)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest

from argosy.adapters.git import GitClient, GitError, GitErrorKind, Scrubber
from argosy.core.repocreds import credentials_for_url, parse_known_hosts, parse_repository_secrets
from argosy.model.repository import RepoCredentials
from tests.support.gitserver import BareRepo, GitServer

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client(tmp_path: Path, git_server: GitServer) -> GitClient:
    return GitClient(
        tmp_path / "cache", known_hosts=parse_known_hosts(git_server.known_hosts_line), timeout=60
    )


def https_creds(server: GitServer, repo: BareRepo, password: str | None = None) -> RepoCredentials:
    return RepoCredentials(
        url=repo.http_url,
        username=server.username,
        password=server.password if password is None else password,
    )


def ssh_creds(server: GitServer, repo: BareRepo) -> RepoCredentials:
    return RepoCredentials(url=repo.ssh_url, ssh_private_key=server.client_private_key)


def read(tree: Path, name: str) -> str:
    return (tree / name).read_text()


@pytest.fixture
def history(git_repo: BareRepo) -> dict[str, str]:
    """main: c1 (tag v1, lightweight) -> c2 (tag v2, annotated) -> c3; branch dev: d1."""
    c1 = git_repo.commit_files({"app.yaml": "version: 1\n"}, "one", tag="v1")
    c2 = git_repo.commit_files({"app.yaml": "version: 2\n"}, "two", tag="v2", annotated_tag=True)
    c3 = git_repo.commit_files({"app.yaml": "version: 3\n", "sub/extra.txt": "x\n"}, "three")
    d1 = git_repo.commit_files({"app.yaml": "version: dev\n"}, "dev", branch="dev")
    return {"c1": c1, "c2": c2, "c3": c3, "d1": d1}


# -- HTTPS ----------------------------------------------------------------------------------------


async def test_https_token_resolves_branch_tag_and_shas(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    url = git_repo.http_url
    cases = {
        "main": ("c3", "version: 3\n"),
        "HEAD": ("c3", "version: 3\n"),
        "": ("c3", "version: 3\n"),
        "dev": ("d1", "version: dev\n"),
        "refs/heads/dev": ("d1", "version: dev\n"),
        "v1": ("c1", "version: 1\n"),
        "v2": ("c2", "version: 2\n"),  # annotated: peeled to the commit
        history["c2"]: ("c2", "version: 2\n"),
        history["c1"][:10]: ("c1", "version: 1\n"),
    }
    for revision, (commit, content) in cases.items():
        resolved, tree = await client.prepare(url, revision, creds)
        assert resolved.sha == history[commit], revision
        assert resolved.revision == revision
        assert read(tree, "app.yaml") == content, revision
    refs = await client.ls_remote(url, creds)
    assert refs["refs/heads/main"] == history["c3"]
    assert refs["refs/tags/v2^{}"] == history["c2"]
    assert refs["refs/tags/v2"] != history["c2"]  # the tag object itself


async def test_checkout_is_read_only_and_reused(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    _, tree = await client.prepare(git_repo.http_url, "main", creds)
    assert read(tree, "sub/extra.txt") == "x\n"
    assert not (tree / ".git").exists()
    for path in [tree, *tree.rglob("*")]:
        assert path.stat().st_mode & 0o222 == 0, path
    again = await client.checkout(git_repo.http_url, history["c3"])
    assert again == tree
    assert client.stats.checkout == 1
    assert client.stats.checkout_reused == 1


async def test_wrong_token_fails_with_authentication_error_and_no_token(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    wrong = "wrong-token-Zq8xTbU3"
    creds = https_creds(git_server, git_repo, password=wrong)
    for call in (
        client.ls_remote(git_repo.http_url, creds),
        client.resolve(git_repo.http_url, "main", creds),
        client.fetch(git_repo.http_url, history["c3"], creds),
    ):
        with pytest.raises(GitError) as info:
            await call
        message = str(info.value)
        assert info.value.kind is GitErrorKind.AUTHENTICATION
        assert git_repo.http_url in message
        assert "authentication failed" in message
        assert wrong not in message
        assert git_server.password not in message


async def test_missing_credentials_fail_fast_as_authentication(
    client: GitClient, git_repo: BareRepo, history: dict[str, str]
) -> None:
    with pytest.raises(GitError, match="authentication failed") as info:
        await client.resolve(git_repo.http_url, "main")
    assert info.value.kind is GitErrorKind.AUTHENTICATION


async def test_password_in_url_never_shows(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    wrong = "url-embedded-Secret-77"
    url = git_repo.http_url.replace("http://", f"http://{git_server.username}:{wrong}@")
    with pytest.raises(GitError) as info:
        await client.resolve(url, "main", RepoCredentials(url=url, username="x", password=wrong))
    assert wrong not in str(info.value)
    assert info.value.kind is GitErrorKind.AUTHENTICATION


async def test_unknown_revision_is_revision_not_found(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    for revision in ("no-such-branch", "deadbee"):
        with pytest.raises(GitError, match="revision not found") as info:
            await client.resolve(git_repo.http_url, revision, creds)
        assert git_repo.http_url in str(info.value)
    with pytest.raises(GitError, match="revision not found"):
        await client.fetch(git_repo.http_url, "0" * 40, creds)


async def test_credential_template_by_longest_prefix(
    client: GitClient, git_server: GitServer, history: dict[str, str], git_repo: BareRepo
) -> None:
    base = git_server.http_base_url

    def template(name: str, url: str, password: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name, "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
            "stringData": {"url": url, "username": git_server.username, "password": password},
        }

    config = parse_repository_secrets(
        [
            template("host-wide", f"{base}/", "wrong-host-wide-password"),
            template("exact-prefix", git_repo.http_url.removesuffix(".git")[:-4], git_server.password),
            template("unrelated", f"{base}/other-team", "wrong-unrelated"),
        ]
    )
    creds = credentials_for_url(git_repo.http_url, config)
    assert creds is not None
    resolved, tree = await client.prepare(git_repo.http_url, "main", creds)
    assert resolved.sha == history["c3"]
    assert read(tree, "app.yaml") == "version: 3\n"
    shorter = credentials_for_url(f"{base}/someone-else/app.git", config)
    assert shorter is not None
    assert shorter.password == "wrong-host-wide-password"


# -- SSH ------------------------------------------------------------------------------------------


async def test_ssh_key_with_known_host(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = ssh_creds(git_server, git_repo)
    resolved, tree = await client.prepare(git_repo.ssh_url, "v2", creds)
    assert resolved.sha == history["c2"]
    assert read(tree, "app.yaml") == "version: 2\n"
    leftovers = list((client.cache_root / "tmp").iterdir())
    assert leftovers == [], "the private key file must be deleted after each command"


async def test_ssh_unknown_host_key_is_refused(
    tmp_path: Path, git_server: GitServer, git_repo: BareRepo
) -> None:
    git_repo.commit_files({"a": "b"}, "one")
    client = GitClient(tmp_path / "cache-no-hosts")  # no known hosts at all
    with pytest.raises(GitError, match="host key verification failed") as info:
        await client.resolve(git_repo.ssh_url, "main", ssh_creds(git_server, git_repo))
    assert info.value.kind is GitErrorKind.HOST_KEY
    assert "OPENSSH PRIVATE KEY" not in str(info.value)
    # insecure: true skips host key checking, as in Argo CD.
    insecure = RepoCredentials(
        url=git_repo.ssh_url, ssh_private_key=git_server.client_private_key, insecure=True
    )
    resolved = await client.resolve(git_repo.ssh_url, "main", insecure)
    assert resolved.sha == git_repo.rev_parse("main")


async def test_ssh_wrong_key_is_authentication_failure(
    tmp_path: Path, client: GitClient, git_server: GitServer, git_repo: BareRepo
) -> None:
    git_repo.commit_files({"a": "b"}, "one")
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    creds = RepoCredentials(url=git_repo.ssh_url, ssh_private_key=key.read_text())
    with pytest.raises(GitError, match="authentication failed") as info:
        await client.resolve(git_repo.ssh_url, "main", creds)
    assert info.value.kind is GitErrorKind.AUTHENTICATION


# -- caching, staleness and concurrency -----------------------------------------------------------


async def test_second_resolve_of_unchanged_branch_does_no_fetch(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    first, _ = await client.prepare(git_repo.http_url, "main", creds)
    assert (client.stats.ls_remote, client.stats.fetch) == (1, 1)
    second, _ = await client.prepare(git_repo.http_url, "main", creds)
    assert second.sha == first.sha
    assert (client.stats.ls_remote, client.stats.fetch) == (1, 1)
    assert client.stats.resolve_cache_hits == 1
    assert client.stats.fetch_skipped == 1
    # refresh asks the server again, but the commit is there: still no fetch.
    third, _ = await client.prepare(git_repo.http_url, "main", creds, refresh=True)
    assert third.sha == first.sha
    assert (client.stats.ls_remote, client.stats.fetch) == (2, 1)


async def test_mark_stale_picks_up_a_push(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    before = await client.resolve(git_repo.http_url, "main", creds)
    dev = await client.resolve(git_repo.http_url, "dev", creds)
    c4 = git_repo.commit_files({"app.yaml": "version: 4\n"}, "four")
    assert (await client.resolve(git_repo.http_url, "main", creds)).sha == before.sha  # cached
    client.mark_stale(git_repo.http_url, "main")
    resolved, tree = await client.prepare(git_repo.http_url, "main", creds)
    assert resolved.sha == c4
    assert read(tree, "app.yaml") == "version: 4\n"
    calls = client.stats.ls_remote
    assert (await client.resolve(git_repo.http_url, "dev", creds)).sha == dev.sha
    assert client.stats.ls_remote == calls  # dev was not marked stale


async def test_resolution_ttl_expires(tmp_path: Path, git_server: GitServer, git_repo: BareRepo) -> None:
    now = [1000.0]
    client = GitClient(tmp_path / "c", resolution_ttl=180, clock=lambda: now[0])
    git_repo.commit_files({"a": "1"}, "one")
    creds = https_creds(git_server, git_repo)
    await client.resolve(git_repo.http_url, "main", creds)
    now[0] += 179
    await client.resolve(git_repo.http_url, "main", creds)
    assert client.stats.ls_remote == 1
    now[0] += 2
    await client.resolve(git_repo.http_url, "main", creds)
    assert client.stats.ls_remote == 2


async def test_concurrent_prepare_of_one_repo_is_safe(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    revisions = ["main", "dev", "v1", "v2", history["c2"], "main", "dev", "v1"] * 2
    results = await asyncio.gather(*(client.prepare(git_repo.http_url, r, creds) for r in revisions))
    expected = {"main": "c3", "dev": "d1", "v1": "c1", "v2": "c2", history["c2"]: "c2"}
    for revision, (resolved, tree) in zip(revisions, results, strict=True):
        assert resolved.sha == history[expected[revision]]
        assert tree.name == resolved.sha
    assert client.stats.ls_remote == 4  # one per symbolic revision: concurrent resolves coalesce
    assert client.stats.fetch == 4  # one per distinct commit
    assert client.stats.checkout == 4


async def test_two_clients_share_a_cache_root(
    tmp_path: Path, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    """Two clients (as two processes would) on one cache root serialise through the file lock."""
    first, second = GitClient(tmp_path / "shared"), GitClient(tmp_path / "shared")
    creds = https_creds(git_server, git_repo)
    results = await asyncio.gather(
        first.prepare(git_repo.http_url, "main", creds), second.prepare(git_repo.http_url, "main", creds)
    )
    assert results[0] == results[1]
    assert first.stats.fetch + second.stats.fetch == 1


async def test_url_variants_share_one_cache_entry(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    creds = https_creds(git_server, git_repo)
    await client.prepare(git_repo.http_url, "main", creds)
    variant = git_repo.http_url.removesuffix(".git") + "/"
    _, tree = await client.prepare(variant, history["c3"], creds)
    assert client.stats.fetch == 1
    assert read(tree, "app.yaml") == "version: 3\n"
    assert len(list((client.cache_root / "repos").iterdir())) == 1


async def test_fetch_falls_back_when_server_refuses_sha_wants(
    tmp_path: Path, git_server: GitServer, git_repo: BareRepo
) -> None:
    inner = git_repo.commit_files({"app.yaml": "version: inner\n"}, "not a branch tip")
    git_repo.commit_files({"app.yaml": "version: tip\n"}, "tip")
    for key in ("uploadpack.allowAnySHA1InWant", "uploadpack.allowReachableSHA1InWant"):
        subprocess.run(["git", "-C", str(git_repo.path), "config", key, "false"], check=True)
    # Protocol v2, and smart HTTP in any version, let clients want any reachable commit; protocol v0
    # over SSH honours the settings above and refuses the commit by SHA.
    client = GitClient(
        tmp_path / "v0",
        known_hosts=parse_known_hosts(git_server.known_hosts_line),
        extra_config=[("protocol.version", "0")],
    )
    creds = ssh_creds(git_server, git_repo)
    await client.fetch(git_repo.ssh_url, inner, creds)
    assert client.stats.fetch == 2  # the refused fetch by SHA, then branches and tags
    tree = await client.checkout(git_repo.ssh_url, inner)
    assert read(tree, "app.yaml") == "version: inner\n"


async def test_checkout_of_unfetched_commit_is_revision_not_found(
    client: GitClient, git_repo: BareRepo, history: dict[str, str]
) -> None:
    with pytest.raises(GitError, match="revision not found"):
        await client.checkout(git_repo.http_url, history["c1"])


# -- what reaches git: environment, never the argument list ---------------------------------------

FAKE_GIT = """#!/bin/sh
# Records its argument list and environment, then runs the real git.
printf '%s\\n' "$@" >> "$ARGOSY_TEST_RECORD/argv"
env >> "$ARGOSY_TEST_RECORD/env"
echo "--end--" >> "$ARGOSY_TEST_RECORD/env"
if [ -n "$GIT_SSH_COMMAND" ]; then
  key=$(printf '%s' "$GIT_SSH_COMMAND" | sed -n 's/.* -i \\([^ ]*\\).*/\\1/p')
  [ -n "$key" ] && stat -c '%a' "$key" >> "$ARGOSY_TEST_RECORD/keymode"
fi
exec git "$@"
"""


def config_pairs(env_dump: str) -> set[tuple[str, str]]:
    """Every (key, value) passed through GIT_CONFIG_KEY_n/GIT_CONFIG_VALUE_n in any recorded call."""
    pairs: set[tuple[str, str]] = set()
    for block in env_dump.split("--end--\n"):
        variables = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        for index in range(int(variables.get("GIT_CONFIG_COUNT", "0"))):
            pairs.add((variables[f"GIT_CONFIG_KEY_{index}"], variables[f"GIT_CONFIG_VALUE_{index}"]))
    return pairs


async def test_secrets_travel_in_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_server: GitServer, git_repo: BareRepo
) -> None:
    record = tmp_path / "record"
    record.mkdir()
    fake = tmp_path / "fake-git"
    fake.write_text(FAKE_GIT)
    fake.chmod(0o755)
    monkeypatch.setenv("ARGOSY_TEST_RECORD", str(record))
    pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    client = GitClient(
        tmp_path / "cache",
        git=str(fake),
        known_hosts=parse_known_hosts(git_server.known_hosts_line),
        tls_certs={"127.0.0.1": [pem]},
    )
    git_repo.commit_files({"a": "1"}, "one")
    creds = https_creds(git_server, git_repo)
    await client.prepare(git_repo.http_url, "main", creds)
    await client.resolve(git_repo.ssh_url, "main", ssh_creds(git_server, git_repo))
    argv = (record / "argv").read_text()
    env = (record / "env").read_text()
    assert git_server.password not in argv
    assert "BEGIN OPENSSH" not in argv
    pairs = config_pairs(env)
    basic = base64.b64encode(f"{git_server.username}:{git_server.password}".encode()).decode()
    assert ("http.extraHeader", f"Authorization: Basic {basic}") in pairs
    assert ("http.sslCAInfo", str(client.cache_root / "tls" / "127.0.0.1.pem")) in pairs
    assert ("protocol.allow", "never") in pairs
    assert "GIT_TERMINAL_PROMPT=0" in env
    assert "StrictHostKeyChecking=yes" in env
    assert f"UserKnownHostsFile={client.known_hosts_file}" in env
    assert set((record / "keymode").read_text().split()) == {"600"}
    assert client.known_hosts_file.read_text() == git_server.known_hosts_line + "\n"


async def test_insecure_https_disables_tls_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_server: GitServer, git_repo: BareRepo
) -> None:
    record = tmp_path / "record"
    record.mkdir()
    fake = tmp_path / "fake-git"
    fake.write_text(FAKE_GIT)
    fake.chmod(0o755)
    monkeypatch.setenv("ARGOSY_TEST_RECORD", str(record))
    client = GitClient(tmp_path / "cache", git=str(fake))
    git_repo.commit_files({"a": "1"}, "one")
    creds = RepoCredentials(
        url=git_repo.http_url, username=git_server.username, password=git_server.password, insecure=True
    )
    # ls-remote over HTTP runs in process; fetching still runs git, which must get the setting.
    sha = git_repo.rev_parse("main")
    await client.fetch(git_repo.http_url, sha, creds)
    assert ("http.sslVerify", "false") in config_pairs((record / "env").read_text())


async def test_enable_lfs_on_a_repository_without_lfs_files(
    client: GitClient, git_server: GitServer, git_repo: BareRepo
) -> None:
    git_repo.commit_files({"app.yaml": "lfs: none\n"}, "one")
    creds = RepoCredentials(
        url=git_repo.http_url, username=git_server.username, password=git_server.password, enable_lfs=True
    )
    resolved, tree = await client.prepare(git_repo.http_url, "main", creds)
    assert tree.name == f"{resolved.sha}-lfs"
    assert read(tree, "app.yaml") == "lfs: none\n"
    assert client.stats.lfs_fetch == 1


def test_scrubber_masks_values_encodings_and_url_passwords() -> None:
    creds = RepoCredentials(url="https://h/x", username="bot", password="p@ss/w0rd", ssh_private_key=KEY_TEXT)
    scrub = Scrubber.for_credentials(creds)
    basic = base64.b64encode(b"bot:p@ss/w0rd").decode()
    text = (
        f"pw p@ss/w0rd enc p%40ss%2Fw0rd basic {basic} key-line c2VjcmV0LWtleS1ib2R5 "
        "https://someone:other-secret@host/x Authorization: Bearer abc.def"
    )
    cleaned = scrub(text)
    for secret in ("p@ss/w0rd", "p%40ss%2Fw0rd", basic, "c2VjcmV0LWtleS1ib2R5", "other-secret", "abc.def"):
        assert secret not in cleaned
    assert "https://someone:***@host/x" in cleaned
    assert Scrubber(["ab"])("xaby") == "x***y"


KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END OPENSSH PRIVATE KEY-----\n"


# -- commit metadata ------------------------------------------------------------------------------


async def test_commit_metadata_from_the_local_cache_only(
    client: GitClient, git_server: GitServer, git_repo: BareRepo, history: dict[str, str]
) -> None:
    url, sha = git_repo.http_url, history["c2"]
    assert await client.commit_metadata(url, sha) is None  # not fetched: no network lookup
    before = client.stats.ls_remote + client.stats.fetch
    await client.fetch(url, sha, https_creds(git_server, git_repo))
    meta = await client.commit_metadata(url, sha)
    assert meta is not None
    expected = subprocess.run(
        ["git", "--git-dir", str(git_repo.path), "log", "-1", "--format=%cI|%an <%ae>", sha],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    date, _, author = expected.partition("|")
    assert (meta.sha, meta.message, meta.author) == (sha, "two", author)
    assert meta.committed_at.isoformat() == date.replace("Z", "+00:00")
    assert meta.committed_at.tzinfo is not None
    assert client.stats.ls_remote + client.stats.fetch == before + 1  # only the fetch above
    assert await client.commit_metadata(url, "not-a-sha") is None
