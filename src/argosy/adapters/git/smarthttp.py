"""``ls-remote`` over Git's smart HTTP protocol, in process.

A refresh only needs the server's ref advertisement: one ``GET <repo>/info/refs?service=
git-upload-pack``. Doing that in process (as Argo CD does with go-git) saves starting ``git`` and
its ``git-remote-https`` helper on every refresh, which is most of a warm refresh's cost. Anything
unusual (no smart-HTTP answer, a redirect to another host) returns ``None`` so that the caller falls
back to the ``git`` CLI; authentication and "not found" answers become :class:`GitError`.
"""

from __future__ import annotations

import ssl

import httpx

from argosy.adapters.git.errors import GitError, GitErrorKind, Scrubber

ADVERTISEMENT_TYPE = "application/x-git-upload-pack-advertisement"
ZERO_SHA = "0" * 40


class AdvertisementError(ValueError):
    """The body is not a well-formed smart-HTTP ref advertisement."""


def parse_advertisement(body: bytes) -> dict[str, str]:
    """Ref name -> SHA from a protocol-v0 ``info/refs`` body (pkt-lines).

    Annotated tags appear twice, as ``refs/tags/<t>`` (the tag object) and ``refs/tags/<t>^{}``
    (the commit), exactly as ``git ls-remote`` prints them. ``HEAD`` is included when advertised.
    """
    refs: dict[str, str] = {}
    pos = 0
    first_ref = True
    while pos < len(body):
        try:
            length = int(body[pos : pos + 4], 16)
        except ValueError as exc:
            raise AdvertisementError(f"bad pkt-line length at byte {pos}") from exc
        if length == 0:  # flush-pkt
            pos += 4
            continue
        if length < 4 or pos + length > len(body):
            raise AdvertisementError(f"truncated pkt-line at byte {pos}")
        line = body[pos + 4 : pos + length].rstrip(b"\n")
        pos += length
        if line.startswith(b"#"):  # "# service=git-upload-pack"
            continue
        if first_ref:
            line = line.split(b"\0", 1)[0]  # capabilities follow the first ref
            first_ref = False
        sha, _, name = line.decode("utf-8", "replace").partition(" ")
        if len(sha) != 40 or not name:
            raise AdvertisementError(f"unexpected ref line {line[:80]!r}")
        if sha == ZERO_SHA and name == "capabilities^{}":  # an empty repository
            continue
        refs[name] = sha
    return refs


async def ls_remote(
    url: str,
    *,
    headers: dict[str, str],
    verify: ssl.SSLContext | bool,
    timeout: float,
    scrub: Scrubber,
) -> dict[str, str] | None:
    """The refs of ``url``, or ``None`` when the server does not speak smart HTTP the simple way."""
    target = url.rstrip("/") + "/info/refs"
    if url.startswith("http://"):
        # No TLS on this connection; a client built with verify=True would still load the default CA
        # bundle (tens of milliseconds, more than the request itself on loopback).
        verify = False
    try:
        async with httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False) as client:
            response = await client.get(target, params={"service": "git-upload-pack"}, headers=headers)
    except httpx.TimeoutException:
        raise GitError(
            url, GitErrorKind.TIMEOUT, f"ls-remote: no answer within {timeout:.0f}s", scrubber=scrub
        ) from None
    except httpx.HTTPError as exc:
        raise GitError(
            url, GitErrorKind.NETWORK, f"ls-remote: {type(exc).__name__}: {exc}", scrubber=scrub
        ) from None
    if response.status_code in (401, 403):
        raise GitError(
            url,
            GitErrorKind.AUTHENTICATION,
            f"ls-remote: the server answered HTTP {response.status_code}",
            scrubber=scrub,
        )
    if response.status_code == 404:
        raise GitError(url, GitErrorKind.REPOSITORY_NOT_FOUND, "ls-remote: HTTP 404", scrubber=scrub)
    if response.status_code != 200 or response.headers.get("content-type", "") != ADVERTISEMENT_TYPE:
        return None  # redirects, dumb HTTP, proxies that rewrite: let git handle them
    try:
        return parse_advertisement(response.content)
    except AdvertisementError:
        return None
