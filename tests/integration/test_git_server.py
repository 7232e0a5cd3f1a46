"""The git_server fixture against real git clients: smart HTTP with Basic auth, and SSH."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import shlex
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.gitserver import SSH, SSH_KEYGEN, BareRepo, GitServer, isolated_git_env

pytestmark = pytest.mark.integration


def git(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a git client command in an environment isolated from the machine's git and ssh config."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=isolated_git_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def ls_remote(url: str, env: Mapping[str, str]) -> dict[str, str]:
    """``{ref: sha}`` as a client sees it."""
    lines = git("ls-remote", url, env=env).stdout.splitlines()
    return {ref: sha for sha, ref in (line.split("\t") for line in lines)}


def no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def seeded_repo(git_repo: BareRepo) -> Iterator[tuple[BareRepo, str]]:
    """A repository with one commit on main (tagged v1.0.0) made by commit_directory."""
    yield git_repo, git_repo.commit_files({"app/config.yaml": "replicas: 1\n"}, "seed", tag="v1.0.0")


# -- HTTP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["extra-header", "credential-helper"])
def test_http_clone_with_credentials_from_the_environment(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path, how: str
) -> None:
    repo, sha = seeded_repo
    env = git_server.http_auth_env() if how == "extra-header" else git_server.credential_helper_env()
    assert git_server.password not in repo.http_url
    git("clone", "-q", repo.http_url, str(tmp_path / "clone"), env=env)
    assert (tmp_path / "clone" / "app" / "config.yaml").read_text() == "replicas: 1\n"
    assert git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == sha
    assert any(r.user == git_server.username and r.status == 200 for r in git_server.http_requests)


@pytest.mark.parametrize("how", ["extra-header", "credential-helper"])
def test_http_wrong_token_fails_authentication(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path, how: str
) -> None:
    repo, _ = seeded_repo
    wrong = "not-" + git_server.token
    if how == "credential-helper":
        env = git_server.credential_helper_env(password=wrong)
    else:
        env = git_server.http_auth_env(password=wrong)
    result = git("clone", repo.http_url, str(tmp_path / "clone"), env=env, check=False)
    assert result.returncode != 0
    if how == "credential-helper":
        assert "Authentication failed" in result.stderr
    else:
        # A rejected extraHeader makes git ask for credentials, and prompts are off in tests.
        assert "could not read Username" in result.stderr or "Authentication failed" in result.stderr
    assert not (tmp_path / "clone").exists()


def test_http_wrong_username_fails_authentication(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str]
) -> None:
    repo, _ = seeded_repo
    result = git("ls-remote", repo.http_url, env=git_server.credential_helper_env(username="x"), check=False)
    assert result.returncode != 0
    assert "Authentication failed" in result.stderr


def test_http_without_credentials_gets_401_with_basic_challenge(
    git_server: GitServer, git_repo: BareRepo
) -> None:
    url = git_repo.http_url + "/info/refs?service=git-upload-pack"
    with pytest.raises(urllib.error.HTTPError) as caught:
        no_proxy_opener().open(url, timeout=10)
    error = caught.value
    with error:
        assert error.code == 401
        assert error.headers["WWW-Authenticate"].startswith('Basic realm="')


def test_ls_remote_resolves_branch_tag_and_commit_from_commit_directory(
    git_server: GitServer, git_repo: BareRepo, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    (source / "guestbook").mkdir(parents=True)
    (source / "guestbook" / "deployment.yaml").write_text("kind: Deployment\n")
    (source / "README.md").write_text("hello\n")
    first = git_repo.commit_directory(source, "first")
    (source / "README.md").unlink()
    second = git_repo.commit_directory(source, "second", tag="v2", annotated_tag=True)
    on_branch = git_server.commit_directory(git_repo.name, source, "feature", branch="feature", tag="f1")

    refs = ls_remote(git_repo.http_url, git_server.http_auth_env())
    assert len(first) == len(second) == 40
    assert first != second
    assert refs["HEAD"] == refs["refs/heads/main"] == second
    assert refs["refs/tags/v2^{}"] == second  # annotated: the tag object peels to the commit
    assert refs["refs/tags/v2"] != second
    assert refs["refs/heads/feature"] == refs["refs/tags/f1"] == on_branch
    assert git_repo.rev_parse("v2") == second
    # commit_directory replaces the tree: README.md is gone from the second commit.
    tree = git("ls-tree", "-r", "--name-only", second, cwd=git_repo.path).stdout.split()
    assert tree == ["guestbook/deployment.yaml"]
    # commit_files adds on top of the branch by default.
    third = git_repo.commit_files({"extra.txt": b"\x00binary"}, "third")
    tree = git("ls-tree", "-r", "--name-only", third, cwd=git_repo.path).stdout.split()
    assert tree == ["extra.txt", "guestbook/deployment.yaml"]


def test_http_fetch_by_commit_sha(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path
) -> None:
    repo, sha = seeded_repo
    repo.commit_files({"later.txt": "x"}, "later")  # the seed commit is no longer a branch tip
    work = tmp_path / "work"
    git("init", "-q", str(work))
    git("fetch", "-q", "--depth=1", repo.http_url, sha, cwd=work, env=git_server.http_auth_env())
    assert git("rev-parse", "FETCH_HEAD", cwd=work).stdout.strip() == sha


def test_http_push_with_credentials(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path
) -> None:
    repo, seed = seeded_repo
    env = git_server.http_auth_env()
    clone = tmp_path / "clone"
    git("clone", "-q", repo.http_url, str(clone), env=env)
    (clone / "app" / "config.yaml").write_text("replicas: 3\n")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "scale", cwd=clone)
    pushed = git("rev-parse", "HEAD", cwd=clone).stdout.strip()
    git("push", "-q", "origin", "HEAD:main", "HEAD:refs/heads/release", cwd=clone, env=env)
    assert repo.rev_parse("main") == repo.rev_parse("release") == pushed != seed
    assert any(r.path.endswith("/git-receive-pack") and r.status == 200 for r in git_server.http_requests)


def test_http_push_without_credentials_is_refused(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path
) -> None:
    repo, seed = seeded_repo
    clone = tmp_path / "clone"
    git("clone", "-q", repo.http_url, str(clone), env=git_server.http_auth_env())
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
        cwd=clone,
    )
    result = git("push", "origin", "HEAD:main", cwd=clone, check=False)
    assert result.returncode != 0
    assert repo.rev_parse("main") == seed


def test_large_http_push_uses_a_chunked_body(
    git_server: GitServer, git_repo: BareRepo, tmp_path: Path
) -> None:
    """Above http.postBuffer git streams the pack with Transfer-Encoding: chunked."""
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work))
    payload = os.urandom(400 * 1024)  # incompressible, so the pack really is larger than the buffer
    (work / "blob.bin").write_bytes(payload)
    git("add", "blob.bin", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "big", cwd=work)
    before = len(git_server.http_requests)
    git(
        "-c",
        "http.postBuffer=65536",
        "push",
        "-q",
        git_repo.http_url,
        "HEAD:main",
        cwd=work,
        env=git_server.http_auth_env(),
    )

    pushes = [r for r in git_server.http_requests[before:] if r.path.endswith("/git-receive-pack")]
    assert any(r.chunked and r.body_bytes > len(payload) and r.status == 200 for r in pushes), pushes
    git("clone", "-q", git_repo.http_url, str(tmp_path / "clone"), env=git_server.http_auth_env())
    assert (tmp_path / "clone" / "blob.bin").read_bytes() == payload


def test_gzip_and_chunked_upload_pack_request(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str]
) -> None:
    """A gzip-encoded, chunked upload-pack request (as git sends for long negotiations) is served."""
    repo, sha = seeded_repo
    request = b"0032want " + sha.encode() + b"\n" + b"0000" + b"0009done\n"
    body = gzip.compress(request)
    credentials = base64.b64encode(f"{git_server.username}:{git_server.token}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", git_server.http_port, timeout=10)
    try:
        connection.request(
            "POST",
            f"/{repo.name}.git/git-upload-pack",
            body=iter([body[:10], body[10:]]),
            headers={
                "Content-Type": "application/x-git-upload-pack-request",
                "Accept": "application/x-git-upload-pack-result",
                "Content-Encoding": "gzip",
                "Authorization": f"Basic {credentials}",
            },
            encode_chunked=True,
        )
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert data.startswith(b"0008NAK\n")
    assert b"PACK" in data
    (record,) = [r for r in git_server.http_requests if r.path == f"/{repo.name}.git/git-upload-pack"]
    assert record.chunked and record.content_encoding == "gzip"


def test_anonymous_read_server(tmp_path: Path) -> None:
    with GitServer(tmp_path / "server", allow_anonymous_read=True).start(ssh=False) as server:
        repo = server.create_repo("org/public")
        sha = repo.commit_files({"a": "b"}, "init")
        git("clone", "-q", repo.http_url, str(tmp_path / "clone"))
        assert git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == sha
        git(
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
            cwd=tmp_path / "clone",
        )
        assert git("push", "origin", "HEAD:main", cwd=tmp_path / "clone", check=False).returncode != 0
        git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "clone", env=server.http_auth_env())


# -- SSH -----------------------------------------------------------------------------------------


def test_ssh_clone_with_client_key_and_strict_known_hosts(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path
) -> None:
    repo, sha = seeded_repo
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(git_server.known_hosts_line + "\n")
    key = tmp_path / "id"
    key.write_text(git_server.client_private_key)
    key.chmod(0o600)
    assert repo.ssh_url == f"ssh://{git_server.ssh_user}@127.0.0.1:{git_server.ssh_port}{repo.path}"
    assert git_server.known_hosts_line.startswith(f"[127.0.0.1]:{git_server.ssh_port} ssh-ed25519 AAAA")

    git("clone", "-q", repo.ssh_url, str(tmp_path / "clone"), env=git_server.ssh_env(known_hosts, key))
    assert git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == sha


def test_ssh_push(git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path) -> None:
    repo, _ = seeded_repo
    env = git_server.ssh_env()
    git("clone", "-q", repo.ssh_url, str(tmp_path / "clone"), env=env)
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "x",
        cwd=tmp_path / "clone",
    )
    git("push", "-q", "origin", "HEAD:main", cwd=tmp_path / "clone", env=env)
    assert repo.rev_parse("main") == git("rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip()


@pytest.mark.parametrize("known_hosts_content", ["empty", "other-host-key"])
def test_ssh_clone_refused_without_the_right_host_key(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path, known_hosts_content: str
) -> None:
    repo, _ = seeded_repo
    known_hosts = tmp_path / "known_hosts"
    if known_hosts_content == "empty":
        known_hosts.write_text("")
    else:
        other = tmp_path / "other_key"
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        key_type, key_data = other.with_suffix(".pub").read_text().split()[:2]
        known_hosts.write_text(f"[127.0.0.1]:{git_server.ssh_port} {key_type} {key_data}\n")
    result = git(
        "clone", repo.ssh_url, str(tmp_path / "clone"), env=git_server.ssh_env(known_hosts), check=False
    )
    assert result.returncode != 0
    assert "Host key verification failed" in result.stderr
    assert not (tmp_path / "clone").exists()


def test_ssh_key_runs_nothing_but_git(git_server: GitServer) -> None:
    command = [
        *shlex.split(git_server.ssh_command())[1:],  # the options, without the ssh binary itself
        "-p",
        str(git_server.ssh_port),
        f"{git_server.ssh_user}@127.0.0.1",
        "id",
    ]
    result = subprocess.run([SSH, *command], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0
    assert "command not allowed" in result.stderr


def test_ssh_wrong_client_key_is_refused(
    git_server: GitServer, seeded_repo: tuple[BareRepo, str], tmp_path: Path
) -> None:
    repo, _ = seeded_repo
    other = tmp_path / "other_key"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    result = git("ls-remote", repo.ssh_url, env=git_server.ssh_env(key=other), check=False)
    assert result.returncode != 0
    assert "Permission denied" in result.stderr


# -- lifecycle -----------------------------------------------------------------------------------


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_stop_leaves_no_listener_or_process(tmp_path: Path) -> None:
    server = GitServer(tmp_path / "server").start()
    try:
        repo = server.create_repo("short-lived")
        repo.commit_files({"a": "b"}, "init")
        http_port, ssh_port, pid = server.http_port, server.ssh_port, server.sshd_pid
        assert pid is not None
        with pytest.raises(RuntimeError, match="running already"):
            server.start()
        assert _listening(http_port) and _listening(ssh_port)
        # An idle keep-alive connection must not hold up the stop.
        idle = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        idle.request("GET", "/short-lived.git/info/refs?service=git-upload-pack")
        idle.getresponse().read()
        git("ls-remote", repo.ssh_url, env=server.ssh_env())
    finally:
        server.stop()
    idle.close()
    assert not _listening(http_port)
    assert not _listening(ssh_port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert server.sshd_pid is None


def test_http_unknown_repository_is_404(git_server: GitServer) -> None:
    credentials = base64.b64encode(f"{git_server.username}:{git_server.token}".encode()).decode()
    request = urllib.request.Request(
        f"{git_server.http_base_url}/no-such-repo.git/info/refs?service=git-upload-pack",
        headers={"Authorization": f"Basic {credentials}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        no_proxy_opener().open(request, timeout=10)
    with caught.value as error:
        assert error.code == 404
