"""Property-based run over the OpenAPI document: no generated request may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck

from argosy.api import ApiDeps, create_app
from argosy.services.memory_history import MemoryHistoryStore
from tests.unit.api.fakes import NOW, NS, FakeKube, seed

_kube = FakeKube()
_tokens = seed(_kube)
_app = create_app(
    ApiDeps(kube=_kube, namespace=NS, clock=lambda: NOW, initial_admin=False, history=MemoryHistoryStore())
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    snapshot = dict(_kube.objects)
    yield
    _kube.objects.clear()
    _kube.objects.update(snapshot)


@schema.parametrize()
@hypothesis.settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: Any) -> None:
    for who in ("admin", "artemis"):
        response = case.call(headers={"Authorization": f"Bearer {_tokens[who]}"})
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
