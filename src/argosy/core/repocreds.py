"""Argo CD repository credentials: parse the Secrets and ConfigMaps, pick the credentials for a URL.

Pure: callers pass the objects as read from the Kubernetes API (plain dicts). The rules follow Argo CD:

* Secrets labelled ``argocd.argoproj.io/secret-type: repository`` describe one repository each;
  ``repo-creds`` Secrets are *credential templates* that apply to every URL starting with their URL.
* :func:`credentials_for_url` takes the ``repository`` Secret whose normalised URL equals the
  requested one; when there is none, or it carries no credentials of its own, the credentials of
  the template with the longest matching URL prefix are used (the repository's ``insecure`` and
  ``enableLfs`` flags stay; templates have no such flags in Argo CD, so they are ignored there).
* ``argocd-ssh-known-hosts-cm`` (``data.ssh_known_hosts``) and ``argocd-tls-certs-cm`` (data keys are
  host names, values PEM certificates) become :class:`SSHKnownHost` entries and a host -> PEM map.

Problems (a Secret without ``url``, a flag that is not a boolean, undecodable base64) never raise from
the bulk parser; they are returned as messages naming the Secret, never a secret value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from argosy.model.repository import (
    RepoCredentials,
    SSHKnownHost,
    normalize_repo_url,
    normalize_repo_url_prefix,
    strip_url_password,
)

__all__ = [
    "SECRET_TYPE_LABEL",
    "SECRET_TYPE_REPOSITORY",
    "SECRET_TYPE_REPO_CREDS",
    "RepoCredsConfig",
    "RepoCredsError",
    "credentials_for_url",
    "matching_template",
    "parse_known_hosts",
    "parse_repository_secret",
    "parse_repository_secrets",
    "parse_ssh_known_hosts_configmap",
    "parse_tls_certs_configmap",
    "split_pem_certificates",
]

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label name, not a password)
SECRET_TYPE_REPOSITORY = "repository"  # noqa: S105
SECRET_TYPE_REPO_CREDS = "repo-creds"  # noqa: S105

# Go's strconv.ParseBool, which Argo CD uses for "insecure", "enableLfs" and friends.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_STRING_KEYS = {
    "url": "url",
    "type": "type",
    "name": "name",
    "project": "project",
    "username": "username",
    "password": "password",
    "bearerToken": "bearer_token",
    "sshPrivateKey": "ssh_private_key",
    "tlsClientCertData": "tls_client_cert_data",
    "tlsClientCertKey": "tls_client_cert_key",
}
_REPOSITORY_BOOL_KEYS = {"insecure": "insecure", "enableLfs": "enable_lfs"}
_COMMON_BOOL_KEYS = {"forceHttpBasicAuth": "force_http_basic_auth"}
_CREDENTIAL_FIELDS = (
    "username",
    "password",
    "bearer_token",
    "ssh_private_key",
    "tls_client_cert_data",
    "tls_client_cert_key",
    "force_http_basic_auth",
)
_UNSUPPORTED_KEYS = ("githubAppPrivateKey", "gcpServiceAccountKey", "useAzureWorkloadIdentity")

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


class RepoCredsError(ValueError):
    """A repository Secret that cannot be used; the message names the Secret, never a value."""


@dataclass(frozen=True, slots=True)
class RepoCredsConfig:
    """Every usable repository Secret and credential template, in input order."""

    repositories: tuple[RepoCredentials, ...] = ()
    templates: tuple[RepoCredentials, ...] = ()
    problems: tuple[str, ...] = ()


def _secret_label(secret: Mapping[str, Any]) -> str:
    metadata = secret.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    name = metadata.get("name") or "<unnamed>"
    return f"Secret {namespace}/{name}" if namespace else f"Secret {name}"


def _secret_type(secret: Mapping[str, Any]) -> str:
    labels = (secret.get("metadata") or {}).get("labels") or {}
    value = labels.get(SECRET_TYPE_LABEL, "")
    return value if isinstance(value, str) else ""


def _secret_values(secret: Mapping[str, Any]) -> dict[str, str]:
    """``data`` (base64) decoded, then ``stringData`` on top, as the API server would merge them."""
    label = _secret_label(secret)
    values: dict[str, str] = {}
    for key, encoded in (secret.get("data") or {}).items():
        if encoded is None:
            continue
        try:
            values[str(key)] = base64.b64decode(str(encoded), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise RepoCredsError(f"{label}: data.{key} is not valid base64-encoded UTF-8") from error
    for key, value in (secret.get("stringData") or {}).items():
        if value is not None:
            values[str(key)] = str(value)
    return values


def _parse_bool(label: str, key: str, raw: str) -> bool:
    if raw in _TRUE:
        return True
    if raw in _FALSE or raw == "":
        return False
    raise RepoCredsError(f"{label}: {key} must be a boolean (true/false), got a {len(raw)}-character value")


def parse_repository_secret(secret: Mapping[str, Any]) -> RepoCredentials:
    """One ``repository`` or ``repo-creds`` Secret as :class:`RepoCredentials`.

    Raises :class:`RepoCredsError` for a Secret without ``url`` or with a malformed value.
    """
    label = _secret_label(secret)
    values = _secret_values(secret)
    url = values.get("url", "").strip()
    if not url:
        raise RepoCredsError(f"{label}: no url")
    kwargs: dict[str, Any] = {
        attr: values[key].strip() if attr == "url" else values[key]
        for key, attr in _STRING_KEYS.items()
        if key in values
    }
    kwargs.setdefault("type", "git")
    bool_keys = dict(_COMMON_BOOL_KEYS)
    if _secret_type(secret) != SECRET_TYPE_REPO_CREDS:
        bool_keys.update(_REPOSITORY_BOOL_KEYS)
    for key, attr in bool_keys.items():
        if key in values:
            kwargs[attr] = _parse_bool(label, key, values[key].strip())
    return RepoCredentials(**kwargs)


def parse_repository_secrets(secrets: Iterable[Mapping[str, Any]]) -> RepoCredsConfig:
    """Sort labelled Secrets into repositories and templates; other Secrets are ignored."""
    repositories: list[RepoCredentials] = []
    templates: list[RepoCredentials] = []
    problems: list[str] = []
    for secret in secrets:
        kind = _secret_type(secret)
        if kind not in (SECRET_TYPE_REPOSITORY, SECRET_TYPE_REPO_CREDS):
            continue
        try:
            creds = parse_repository_secret(secret)
        except RepoCredsError as error:
            problems.append(str(error))
            continue
        keys = set(secret.get("data") or {}) | set(secret.get("stringData") or {})
        problems.extend(
            f"{_secret_label(secret)}: {key} is not supported and is ignored"
            for key in _UNSUPPORTED_KEYS
            if key in keys
        )
        if creds.type not in ("git", ""):
            problems.append(f"{_secret_label(secret)}: type {creds.type!r} is not a Git repository")
        (repositories if kind == SECRET_TYPE_REPOSITORY else templates).append(creds)
    return RepoCredsConfig(tuple(repositories), tuple(templates), tuple(problems))


def matching_template(url: str, templates: Iterable[RepoCredentials]) -> RepoCredentials | None:
    """The template whose normalised URL is the longest prefix of ``url`` (the last one on a tie)."""
    target = normalize_repo_url(url)
    best: RepoCredentials | None = None
    best_length = -1
    for template in templates:
        prefix = normalize_repo_url_prefix(template.url)
        if not prefix:
            continue
        matches = target.startswith(prefix) or target + "/" == prefix
        if matches and len(prefix) >= best_length:
            best, best_length = template, len(prefix)
    return best


def _copy_credentials(target: RepoCredentials, source: RepoCredentials) -> RepoCredentials:
    return replace(target, **{name: getattr(source, name) for name in _CREDENTIAL_FIELDS})


def credentials_for_url(
    url: str, config: RepoCredsConfig, *, project: str | None = None
) -> RepoCredentials | None:
    """The credentials Argo CD would use for ``url``; ``None`` when nothing matches (anonymous).

    An exact ``repository`` match wins (one scoped to ``project`` before an unscoped one); a
    repository without credentials of its own, or no repository at all, takes them from the
    longest-prefix template. The returned object's ``url`` is the requested URL (password removed).
    """
    key = normalize_repo_url(url)
    clean_url = strip_url_password(url.strip())
    candidates = [repo for repo in config.repositories if normalize_repo_url(repo.url) == key]
    scoped = [repo for repo in candidates if project and repo.project == project]
    unscoped = [repo for repo in candidates if not repo.project]
    chosen = scoped or unscoped
    repository = chosen[0] if chosen else None
    if repository is not None and repository.has_credentials():
        return replace(repository, url=clean_url)
    template = matching_template(url, config.templates)
    if repository is None:
        if template is None:
            return None
        return replace(template, url=clean_url, name="", project="", insecure=False, enable_lfs=False)
    if template is None:
        return replace(repository, url=clean_url)
    return _copy_credentials(replace(repository, url=clean_url), template)


# --------------------------------------------------------------------------------------------------
# argocd-ssh-known-hosts-cm and argocd-tls-certs-cm
# --------------------------------------------------------------------------------------------------


def parse_known_hosts(text: str) -> tuple[SSHKnownHost, ...]:
    """The entries of an OpenSSH ``known_hosts`` text; blank, comment and malformed lines are skipped."""
    entries: list[SSHKnownHost] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields_ = line.split()
        marker = ""
        if fields_[0].startswith("@"):
            marker, fields_ = fields_[0], fields_[1:]
        if len(fields_) < 3:
            continue
        hosts, key_type, key, *rest = fields_
        entries.append(
            SSHKnownHost(
                hosts=tuple(h for h in hosts.split(",") if h),
                key_type=key_type,
                key=key,
                marker=marker,
                comment=" ".join(rest),
            )
        )
    return tuple(entries)


def parse_ssh_known_hosts_configmap(configmap: Mapping[str, Any]) -> tuple[SSHKnownHost, ...]:
    """``argocd-ssh-known-hosts-cm``: the entries of ``data.ssh_known_hosts``."""
    data = configmap.get("data") or {}
    return parse_known_hosts(str(data.get("ssh_known_hosts") or ""))


def split_pem_certificates(text: str) -> tuple[str, ...]:
    """Every ``BEGIN CERTIFICATE`` block in ``text``, each ending with a newline."""
    return tuple(match.group(0).strip() + "\n" for match in _PEM_CERT.finditer(text))


def parse_tls_certs_configmap(configmap: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """``argocd-tls-certs-cm``: lower-cased host name -> its PEM certificates (hosts without any dropped)."""
    result: dict[str, tuple[str, ...]] = {}
    for host, value in sorted((configmap.get("data") or {}).items()):
        certificates = split_pem_certificates(str(value or ""))
        if certificates:
            key = str(host).strip().lower()
            result[key] = result.get(key, ()) + certificates
    return result
