"""gzip of ``GET /api/v1/applications`` from cached per-group deflate segments (appcache.GzipSegments):
the same bytes as the uncompressed answer once decoded, by every decoder, and only the groups
that changed are compressed again."""

from __future__ import annotations

import gzip
import json
import time
import zlib

from fastapi.testclient import TestClient

from argosy.api import ApiDeps, create_app
from argosy.api.appcache import CachedApp, GzipSegments, Piece, entry
from argosy.api.common import select_fields
from tests.unit.api.fakes import NOW, NS, FakeKube, app_obj, seed

APPS = "/api/v1/applications"


def _pieces(entries: list[CachedApp]) -> list[Piece]:
    return [(e.name, e.resource_version, e.raw) for e in entries]


def _entries(n: int, rv: int = 1) -> list[CachedApp]:
    out = []
    for i in range(n):
        obj = app_obj(f"app-{i:04d}", ("artemis", "sophia")[i % 2])
        obj["metadata"]["resourceVersion"] = str(rv + i)
        obj["status"] = {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}, "i": i}
        out.append(entry(obj))
    return out


def test_segments_decode_to_the_plain_body_with_every_decoder() -> None:
    head, tail = b'{"metadata":{"resourceVersion":"7"},"items":[', b"]}"
    for n in (0, 1, 2, GzipSegments.GROUP, GzipSegments.GROUP + 1, 3 * GzipSegments.GROUP + 5):
        entries = _entries(n)
        plain = head + b",".join(e.raw for e in entries) + tail
        body = GzipSegments(3).body(head, _pieces(entries), tail)
        assert gzip.decompress(body) == plain  # checks the CRC-32 and the length too
        single = zlib.decompressobj(zlib.MAX_WBITS | 16)  # httpx's decoder: one member only
        assert single.decompress(body) == plain and single.eof and not single.unused_data
        if n:
            assert json.loads(plain)["items"][-1]["metadata"]["name"] == f"app-{n - 1:04d}"


def test_only_changed_groups_are_compressed_again_and_the_ratio_holds() -> None:
    segments = GzipSegments(3)
    head, tail = b'{"items":[', b"]}"
    entries = _entries(1000)
    first = segments.body(head, _pieces(entries), tail)
    groups = -(-1000 // GzipSegments.GROUP)
    assert (segments.hits, segments.misses) == (0, groups)
    assert segments.body(head, _pieces(entries), tail) == first
    assert (segments.hits, segments.misses) == (groups, groups)

    changed = list(entries)
    obj = dict(changed[500].obj, metadata={**changed[500].obj["metadata"], "resourceVersion": "99999"})
    changed[500] = entry(obj)
    segments.body(head, _pieces(changed), tail)
    assert segments.misses == groups + 1

    plain = head + b",".join(e.raw for e in entries) + tail
    whole = len(gzip.compress(plain, compresslevel=3))
    assert len(first) <= whole * 1.25, (len(first), whole)  # small items here; 1.0x-1.1x at 1.5 KB


def test_list_route_gzips_from_segments_and_honours_identity() -> None:
    kube = FakeKube()
    tokens = seed(kube)
    for i in range(40):
        kube.add(app_obj(f"bulk-{i:03d}", "sophia"))
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    with TestClient(create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW))) as client:
        ctx = client.app.state.argosy  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while not (ctx.cache and ctx.cache.synced) and time.monotonic() < deadline:
            time.sleep(0.01)
        zipped = client.get(APPS, headers={**auth, "Accept-Encoding": "gzip"})
        plain = client.get(APPS, headers={**auth, "Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.headers["vary"] == "Accept-Encoding"
        assert "content-encoding" not in plain.headers
        assert zipped.content == plain.content  # httpx decoded the gzip
        assert len(zipped.json()["items"]) == 43
        hits = ctx.cache.gzip.hits
        client.get(APPS, headers={**auth, "Accept-Encoding": "gzip, deflate"})
        assert ctx.cache.gzip.hits > hits


FIELD_LISTS = [
    "items.metadata.name,items.status.sync.status,items.status.health.status",
    "metadata.resourceVersion,items.metadata.name,items.metadata.namespace,items.metadata.labels,"
    "items.metadata.resourceVersion,items.spec,items.status.sync,items.status.health,"
    "items.status.operationState.phase,items.status.reconciledAt,items.operation",  # the web UI's
    "items.operation",  # most items have none: they are left out
    "items",
    "items.metadata,items.metadata.name",
    "metadata.resourceVersion",
    "metadata",
    "items.spec.source.repoURL, items.nothing.here ,,items.metadata.labels.team",
    "nothing",
    "",
]


def test_fields_answers_equal_select_fields_over_the_whole_list() -> None:
    kube = FakeKube()
    tokens = seed(kube)
    for i in range(300):
        obj = app_obj(f"bulk-{i:03d}", ("artemis", "sophia")[i % 2], labels={"team": str(i % 3)})
        if i % 7 == 0:
            obj["operation"] = {"sync": {"revision": "main"}}
        kube.add(obj)
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    with TestClient(create_app(ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW))) as client:
        ctx = client.app.state.argosy  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while not (ctx.cache and ctx.cache.synced) and time.monotonic() < deadline:
            time.sleep(0.01)
        whole = client.get(APPS, headers={**auth, "Accept-Encoding": "identity"}).json()
        for fields in FIELD_LISTS:
            expected = select_fields(whole, fields) if fields else whole
            for encoding in ("identity", "gzip"):
                r = client.get(APPS, params={"fields": fields}, headers={**auth, "Accept-Encoding": encoding})
                assert r.status_code == 200
                assert r.json() == expected, (fields, encoding)
            paged = client.get(APPS, params={"fields": fields, "limit": 50}, headers=auth).json()
            if "items" in expected:
                assert 0 < len(paged["items"]) <= 50
        misses = ctx.cache.gzip.misses
        client.get(APPS, params={"fields": FIELD_LISTS[1]}, headers={**auth, "Accept-Encoding": "gzip"})
        assert ctx.cache.gzip.misses == misses  # the UI's list again: cached segments only
