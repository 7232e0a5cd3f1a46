from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from argosy.api import ApiDeps, create_app
from argosy.ports.apiserver import AuditEntry
from tests.unit.api.fakes import NOW, NS, FakeKube, seed


@dataclass
class Api:
    client: TestClient
    kube: FakeKube
    tokens: dict[str, str]
    audit: list[AuditEntry] = field(default_factory=list)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, path: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(who), **kw)


@pytest.fixture
def api() -> Iterator[Api]:
    kube = FakeKube()
    tokens = seed(kube)
    audit: list[AuditEntry] = []
    app = create_app(
        ApiDeps(kube=kube, namespace=NS, clock=lambda: NOW, audit=audit.append, watch_cache=False)
    )
    with TestClient(app, base_url="https://testserver") as client:
        yield Api(client=client, kube=kube, tokens=tokens, audit=audit)
