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
from argosy.api.appcache import GzipSegments, entry
from tests.unit.api.fakes import NOW, NS, FakeKube, app_obj, seed

APPS = "/api/v1/applications"


def _entries(n: int, rv: int = 1) -> list:  # type: ignore[type-arg]
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
        body = GzipSegments(3).body(head, entries, tail)
        assert gzip.decompress(body) == plain  # checks the CRC-32 and the length too
        single = zlib.decompressobj(zlib.MAX_WBITS | 16)  # httpx's decoder: one member only
        assert single.decompress(body) == plain and single.eof and not single.unused_data
        if n:
            assert json.loads(plain)["items"][-1]["metadata"]["name"] == f"app-{n - 1:04d}"


def test_only_changed_groups_are_compressed_again_and_the_ratio_holds() -> None:
    segments = GzipSegments(3)
    head, tail = b'{"items":[', b"]}"
    entries = _entries(1000)
    first = segments.body(head, entries, tail)
    groups = -(-1000 // GzipSegments.GROUP)
    assert (segments.hits, segments.misses) == (0, groups)
    assert segments.body(head, entries, tail) == first
    assert (segments.hits, segments.misses) == (groups, groups)

    changed = list(entries)
    obj = dict(changed[500].obj, metadata={**changed[500].obj["metadata"], "resourceVersion": "99999"})
    changed[500] = entry(obj)
    segments.body(head, changed, tail)
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
