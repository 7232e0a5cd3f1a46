"""Argo CD repository Secrets, credential templates and URL matching (argosy.core.repocreds)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from argosy.core.repocreds import (
    RepoCredsConfig,
    RepoCredsError,
    credentials_for_url,
    matching_template,
    parse_known_hosts,
    parse_repository_secret,
    parse_repository_secrets,
    parse_ssh_known_hosts_configmap,
    parse_tls_certs_configmap,
)
from argosy.model.repository import RepoCredentials, normalize_repo_url, redact_url, strip_url_password

TOKEN = "ghp_s3cr3tT0kenValue"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAkeymaterial\n-----END OPENSSH PRIVATE KEY-----\n"


def secret(
    name: str, kind: str, *, data: dict[str, str] | None = None, string_data: dict[str, str] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "argocd", "labels": {"argocd.argoproj.io/secret-type": kind}},
        "type": "Opaque",
    }
    if data is not None:
        body["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data is not None:
        body["stringData"] = string_data
    return body


# -- URL normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "https://github.com/Org/Repo",
        "https://github.com/org/repo.git",
        "https://github.com/org/repo/",
        "https://github.com/org/repo.git/",
        " HTTPS://GITHUB.COM/ORG/REPO ",
    ],
)
def test_https_variants_normalise_equal(variant: str) -> None:
    assert normalize_repo_url(variant) == "https://github.com/org/repo"


@pytest.mark.parametrize(
    "variant",
    [
        "git@github.com:org/repo.git",
        "ssh://git@github.com/org/repo",
        "git@GitHub.com:Org/Repo",
        "ssh://git@github.com/org/repo.git/",
    ],
)
def test_scp_and_ssh_forms_normalise_equal(variant: str) -> None:
    assert normalize_repo_url(variant) == "ssh://git@github.com/org/repo"


def test_ssh_url_with_port_keeps_port() -> None:
    assert normalize_repo_url("ssh://git@host:2222/org/repo.git") == "ssh://git@host:2222/org/repo"
    assert normalize_repo_url("ssh://git@host:2222/org/repo") != normalize_repo_url("git@host:org/repo")


def test_password_in_url_is_stripped_and_redacted() -> None:
    url = f"https://bot:{TOKEN}@github.com/org/repo"
    assert normalize_repo_url(url) == "https://bot@github.com/org/repo"
    assert strip_url_password(url) == "https://bot@github.com/org/repo"
    assert TOKEN not in redact_url(url)
    assert redact_url(url) == "https://bot:***@github.com/org/repo"


# -- Secrets --------------------------------------------------------------------------------------


def test_spec_example_repository_secret_from_string_data() -> None:
    creds = parse_repository_secret(
        secret(
            "repo-credentials",
            "repository",
            string_data={
                "type": "git",
                "url": "https://github.com/sophia-intel-ai/gitops",
                "username": "argocd-bot",
                "password": TOKEN,
                "insecure": "false",
                "enableLfs": "true",
            },
        )
    )
    assert creds == RepoCredentials(
        url="https://github.com/sophia-intel-ai/gitops",
        type="git",
        username="argocd-bot",
        password=TOKEN,
        insecure=False,
        enable_lfs=True,
    )


def test_data_is_base64_decoded_and_string_data_wins() -> None:
    creds = parse_repository_secret(
        secret(
            "r",
            "repository",
            data={"url": "https://h/x", "username": "from-data", "password": "p-data", "insecure": "True"},
            string_data={"username": "from-stringdata"},
        )
    )
    assert (creds.url, creds.username, creds.password, creds.insecure) == (
        "https://h/x",
        "from-stringdata",
        "p-data",
        True,
    )


def test_repr_and_str_mask_every_secret() -> None:
    creds = RepoCredentials(
        url=f"https://u:{TOKEN}@h/x",
        username="bot",
        password=TOKEN,
        bearer_token="bearer-secret-1",
        ssh_private_key=KEY,
        tls_client_cert_data="CERTDATA",
        tls_client_cert_key="KEYDATA-secret",
    )
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        for value in (TOKEN, "bearer-secret-1", "AAAAkeymaterial", "KEYDATA-secret"):
            assert value not in text
        assert "username='bot'" in text
        assert "password='***'" in text
    assert "password=''" in repr(RepoCredentials(url="https://h/x"))


def test_secret_without_url_is_rejected() -> None:
    with pytest.raises(RepoCredsError, match="argocd/nourl: no url"):
        parse_repository_secret(secret("nourl", "repository", string_data={"password": TOKEN}))


def test_bad_boolean_is_reported_without_its_value() -> None:
    bad = secret("bad", "repository", string_data={"url": "https://h/x", "insecure": TOKEN})
    with pytest.raises(RepoCredsError) as info:
        parse_repository_secret(bad)
    assert "insecure must be a boolean" in str(info.value)
    assert TOKEN not in str(info.value)


def test_bad_base64_is_reported() -> None:
    body = secret("b64", "repository", string_data={"url": "https://h/x"})
    body["data"] = {"password": "%%%not-base64"}
    with pytest.raises(RepoCredsError, match=r"data\.password is not valid base64"):
        parse_repository_secret(body)


def test_bulk_parse_sorts_and_collects_problems() -> None:
    config = parse_repository_secrets(
        [
            secret("repo", "repository", string_data={"url": "https://h/org/app", "password": TOKEN}),
            secret(
                "tmpl", "repo-creds", string_data={"url": "https://h/org", "username": "u", "password": "p"}
            ),
            secret("broken", "repository", string_data={"username": "u"}),
            secret("other", "cluster", string_data={"url": "https://kube"}),
            {"metadata": {"name": "unlabelled"}, "stringData": {"url": "https://h/x"}},
            secret(
                "ghapp", "repo-creds", string_data={"url": "https://gh/org", "githubAppPrivateKey": "k" * 20}
            ),
        ]
    )
    assert [c.url for c in config.repositories] == ["https://h/org/app"]
    assert [c.url for c in config.templates] == ["https://h/org", "https://gh/org"]
    assert any("broken: no url" in p for p in config.problems)
    assert any("githubAppPrivateKey is not supported" in p for p in config.problems)
    assert all(TOKEN not in p for p in config.problems)


def test_template_ignores_insecure_and_lfs_flags() -> None:
    creds = parse_repository_secret(
        secret(
            "t", "repo-creds", string_data={"url": "https://h/org", "insecure": "true", "enableLfs": "true"}
        )
    )
    assert not creds.insecure
    assert not creds.enable_lfs


# -- picking credentials --------------------------------------------------------------------------


def config(*secrets: dict[str, Any]) -> RepoCredsConfig:
    result = parse_repository_secrets(secrets)
    assert not result.problems
    return result


def test_exact_repository_match_wins_over_templates() -> None:
    cfg = config(
        secret("tmpl", "repo-creds", string_data={"url": "https://github.com/org", "password": "template"}),
        secret(
            "repo",
            "repository",
            string_data={"url": "https://github.com/Org/App.git", "username": "bot", "password": TOKEN},
        ),
    )
    creds = credentials_for_url("https://github.com/org/app", cfg)
    assert creds is not None
    assert (creds.username, creds.password, creds.url) == ("bot", TOKEN, "https://github.com/org/app")


@pytest.mark.parametrize(
    "url", ["git@github.com:org/app.git", "ssh://git@github.com/org/app", "ssh://git@GITHUB.com/org/app/"]
)
def test_scp_style_secret_matches_ssh_scheme_url(url: str) -> None:
    cfg = config(
        secret("repo", "repository", string_data={"url": "git@github.com:org/app.git", "sshPrivateKey": KEY})
    )
    creds = credentials_for_url(url, cfg)
    assert creds is not None
    assert creds.ssh_private_key == KEY


def test_longest_template_prefix_wins() -> None:
    cfg = config(
        secret("short", "repo-creds", string_data={"url": "https://git.example.com/", "password": "short"}),
        secret(
            "long", "repo-creds", string_data={"url": "https://git.example.com/team-a", "password": "long"}
        ),
        secret(
            "other", "repo-creds", string_data={"url": "https://git.example.com/team-b", "password": "other"}
        ),
    )
    creds = credentials_for_url("https://git.example.com/team-a/app.git", cfg)
    assert creds is not None
    assert creds.password == "long"
    assert creds.url == "https://git.example.com/team-a/app.git"
    fallback = credentials_for_url("https://git.example.com/team-c/app", cfg)
    assert fallback is not None
    assert fallback.password == "short"
    assert credentials_for_url("https://elsewhere.example.com/team-a/app", cfg) is None


def test_template_is_a_plain_string_prefix_like_argo_cd() -> None:
    cfg = config(secret("t", "repo-creds", string_data={"url": "https://h/org", "password": "p"}))
    assert credentials_for_url("https://h/org-other/app", cfg) is not None  # Argo CD matches this too
    slash = config(secret("t", "repo-creds", string_data={"url": "https://h/org/", "password": "p"}))
    assert credentials_for_url("https://h/org-other/app", slash) is None
    assert credentials_for_url("https://h/org/app", slash) is not None
    assert credentials_for_url("https://h/org", slash) is not None


def test_scp_style_template_matches_ssh_repos() -> None:
    cfg = config(
        secret(
            "ssh", "repo-creds", string_data={"url": "git@github.com:sophia-intel-ai", "sshPrivateKey": KEY}
        )
    )
    for url in ("git@github.com:sophia-intel-ai/gitops.git", "ssh://git@github.com/sophia-intel-ai/gitops"):
        creds = credentials_for_url(url, cfg)
        assert creds is not None
        assert creds.ssh_private_key == KEY
    assert credentials_for_url("https://github.com/sophia-intel-ai/gitops", cfg) is None


def test_repository_without_credentials_takes_them_from_template_and_keeps_its_flags() -> None:
    cfg = config(
        secret("tmpl", "repo-creds", string_data={"url": "https://h/org", "username": "t", "password": "tp"}),
        secret(
            "repo",
            "repository",
            string_data={"url": "https://h/org/app", "insecure": "true", "enableLfs": "1"},
        ),
    )
    creds = credentials_for_url("https://h/org/app", cfg)
    assert creds is not None
    assert (creds.username, creds.password, creds.insecure, creds.enable_lfs) == ("t", "tp", True, True)


def test_repository_without_credentials_and_no_template_is_anonymous_with_flags() -> None:
    cfg = config(secret("repo", "repository", string_data={"url": "https://h/org/app", "insecure": "true"}))
    creds = credentials_for_url("https://h/org/app", cfg)
    assert creds is not None
    assert creds.insecure
    assert not creds.has_credentials()


def test_project_scoped_repository_preferred_for_its_project_only() -> None:
    cfg = config(
        secret(
            "scoped",
            "repository",
            string_data={"url": "https://h/app", "password": "scoped", "project": "p1"},
        ),
        secret("global", "repository", string_data={"url": "https://h/app", "password": "global"}),
    )
    assert (
        credentials_for_url("https://h/app", cfg, project="p1") or RepoCredentials("")
    ).password == "scoped"
    assert (
        credentials_for_url("https://h/app", cfg, project="p2") or RepoCredentials("")
    ).password == "global"
    assert (credentials_for_url("https://h/app", cfg) or RepoCredentials("")).password == "global"


def test_matching_template_none_without_templates() -> None:
    assert matching_template("https://h/x", ()) is None


# -- ConfigMaps -----------------------------------------------------------------------------------

KNOWN_HOSTS = """\
# comment
bitbucket.org ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEAubiN81eDcafrgMeLzaFPsw2kNvEcqTKl
github.com,140.82.112.3 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl

[127.0.0.1]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNh host comment here
@cert-authority *.example.com ssh-ed25519 AAAAC3CA
broken-line-only-host
"""


def test_known_hosts_parse() -> None:
    entries = parse_known_hosts(KNOWN_HOSTS)
    assert [e.hosts for e in entries] == [
        ("bitbucket.org",),
        ("github.com", "140.82.112.3"),
        ("[127.0.0.1]:2222",),
        ("*.example.com",),
    ]
    assert entries[2].comment == "host comment here"
    assert entries[3].marker == "@cert-authority"
    assert entries[1].line() == (
        "github.com,140.82.112.3 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    )
    cm = {
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-ssh-known-hosts-cm"},
        "data": {"ssh_known_hosts": KNOWN_HOSTS},
    }
    assert parse_ssh_known_hosts_configmap(cm) == entries
    assert parse_ssh_known_hosts_configmap({"data": None}) == ()


PEM_A = "-----BEGIN CERTIFICATE-----\nMIIBAAA=\n-----END CERTIFICATE-----"
PEM_B = "-----BEGIN CERTIFICATE-----\nMIIBBBB=\n-----END CERTIFICATE-----"


def test_tls_certs_parse() -> None:
    cm = {
        "metadata": {"name": "argocd-tls-certs-cm"},
        "data": {
            "Git.Example.com": f"{PEM_A}\n{PEM_B}\n",
            "empty.example.com": "not a cert",
            "one.example": PEM_A,
        },
    }
    certs = parse_tls_certs_configmap(cm)
    assert certs == {"git.example.com": (PEM_A + "\n", PEM_B + "\n"), "one.example": (PEM_A + "\n",)}
    assert parse_tls_certs_configmap({}) == {}
