"""Teams (O365 connector and Workflows) and PagerDuty (Events API v2) through the notifier and its
SQLite outbox, against loopback receivers (tests/support/notify_receivers.py).

The webhook URLs and the routing key live in the notifications secret; nothing stored, logged as an
error or counted may contain them. Delivery follows the same contract as the other services: sent
only once the receiver accepted (connector ``1``, workflow 2xx, PagerDuty 202), retried while it is
down or throttling, failed for good on a refusal."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from argosy.adapters.db import SqlStore, default_sqlite_url, open_store
from argosy.adapters.metrics import PrometheusMetrics, exposition
from argosy.adapters.notifiers import Notifiers
from argosy.services.notifier import Backoff, NotifierService
from tests.support.notify_receivers import TeamsPagerDutyReceiver

pytestmark = pytest.mark.integration

ROUTING_KEY = "R0ut1ngKeyOfTheProdOncallService"


@pytest.fixture
def receiver() -> Iterator[TeamsPagerDutyReceiver]:
    r = TeamsPagerDutyReceiver(routing_keys={ROUTING_KEY})
    r.start()
    try:
        yield r
    finally:
        r.stop()


def secrets_for(r: TeamsPagerDutyReceiver) -> dict[str, str]:
    return {
        "teams-deploys-url": r.connector_url("deploys"),
        "workflows-ops-url": r.workflow_url("ops"),
        "pagerduty-key": ROUTING_KEY,
    }


def config_data(r: TeamsPagerDutyReceiver) -> dict[str, str]:
    facts = (
        '[{"name": "Revision", "value": {{.app.status.operationState.syncResult.revision | toJson}}},'
        ' {"name": "Message", "value": {{.app.status.operationState.message | toJson}}}]'
    )
    template = {
        "message": "{{.app.metadata.name}} sync {{.app.status.operationState.phase}}",
        "teams": {"title": "Sync failed: {{.app.metadata.name}}", "themeColor": "#E81123", "facts": facts},
        "teams-workflows": {"title": "Sync failed: {{.app.metadata.name}}", "facts": facts},
        "pagerdutyv2": {
            "summary": "{{.app.metadata.name}}: {{.app.status.operationState.message}}",
            "severity": "critical",
            "source": "{{.app.metadata.name}}",
            "group": "{{.app.spec.project}}",
            "url": "http://argosy.invalid/applications/{{.app.metadata.name}}",
        },
    }
    return {
        "service.teams": "recipientUrls:\n  deploys: $teams-deploys-url\n",
        "service.teams-workflows": "recipientUrls:\n  ops: $workflows-ops-url\n",
        "service.pagerdutyv2": yaml.safe_dump(
            {"serviceKeys": {"prod-oncall": "$pagerduty-key"}, "apiURL": r.url}
        ),
        "template.app-sync-failed": yaml.safe_dump(template),
        "trigger.on-sync-failed": "- when: app.status.operationState?.phase in ['Error', 'Failed']\n"
        "  oncePer: app.status.operationState?.syncResult?.revision\n"
        "  send: [app-sync-failed]\n",
    }


def failed_app(name: str, revision: str, subscribe: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {
                f"notifications.argoproj.io/subscribe.on-sync-failed.{k}": v for k, v in subscribe.items()
            },
        },
        "spec": {"project": "payments", "destination": {"namespace": name}},
        "status": {
            "sync": {"status": "OutOfSync", "revision": revision},
            "health": {"status": "Degraded"},
            "operationState": {
                "phase": "Failed",
                "message": 'Deployment "api" is invalid:\nspec.replicas: Invalid value',
                "startedAt": "2026-11-25T10:00:00Z",
                "syncResult": {"revision": revision},
            },
        },
    }


ALL = {"teams": "deploys", "teams-workflows": "ops", "pagerdutyv2": "prod-oncall"}


async def _store(tmp_path: Path) -> SqlStore:
    return await open_store(default_sqlite_url(tmp_path / "argosy.db"))


def _no_secret_in(texts: list[str], secrets: dict[str, str]) -> None:
    for text in texts:
        for value in secrets.values():
            assert value not in text
            assert value.split("?", 1)[0] not in text


def test_teams_and_pagerduty_receive_the_rendered_failure_once(
    receiver: TeamsPagerDutyReceiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = secrets_for(receiver)
    caplog.set_level(logging.INFO)  # as `argosy server --verbose`: httpx logs every request
    metrics = PrometheusMetrics()

    async def main() -> list[Any]:
        store = await _store(tmp_path)
        senders = Notifiers(trust_env=False)
        try:
            service = NotifierService(store, senders, config_data=config_data(receiver), secrets=secrets,
                                      metrics=metrics)  # fmt: skip
            app = failed_app("payments", "r1", ALL)
            assert len(await service.handle_app(app)) == 3
            assert await service.handle_app(app) == []  # the same operation again: nothing new
            assert await service.deliver_due() == 3
            assert await service.deliver_due() == 0
            return await store.messages()
        finally:
            await senders.aclose()
            await store.close()

    messages = asyncio.run(main())
    assert sorted((m.service, m.status) for m in messages) == [
        ("pagerdutyv2", "sent"),
        ("teams", "sent"),
        ("teams-workflows", "sent"),
    ]
    _no_secret_in([json.dumps(m.payload) for m in messages], secrets)

    (connector,) = receiver.at("/connector/deploys")
    card = connector.json()
    assert connector.headers["Content-Type"] == "application/json"
    assert card["@type"] == "MessageCard" and card["title"] == "Sync failed: payments"
    assert card["themeColor"] == "#E81123" and card["text"] == "payments sync Failed"
    assert card["sections"] == [{"facts": [
        {"name": "Revision", "value": "r1"},
        {"name": "Message", "value": 'Deployment "api" is invalid:\nspec.replicas: Invalid value'},
    ]}]  # fmt: skip

    (workflow,) = receiver.at("/workflows/ops")
    message = workflow.json()
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    body = attachment["content"]["body"]
    assert body[0]["text"] == "Sync failed: payments"
    assert body[2]["facts"][1] == {
        "title": "Message",
        "value": 'Deployment "api" is invalid:\nspec.replicas: Invalid value',
    }

    (event,) = receiver.events()
    assert event == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "payload": {
            "summary": 'payments: Deployment "api" is invalid:\nspec.replicas: Invalid value',
            "severity": "critical",
            "source": "payments",
            "group": "payments",
        },
        "client": "Argosy",
        "client_url": "http://argosy.invalid/applications/payments",
    }
    text = exposition(metrics).decode()
    for service in ("teams", "teams-workflows", "pagerdutyv2"):
        labels = f'service="{service}",succeeded="true",trigger="on-sync-failed"'
        assert f"argocd_notifications_deliveries_total{{{labels}}} 1.0" in text
    _no_secret_in([text], secrets)
    # httpx's request log names the requests but not the URLs, which are credentials
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(requests) == 3 and all("<notification service URL>" in m for m in requests), requests
    _no_secret_in([caplog.text], secrets)


def test_receivers_down_then_up_get_each_message_exactly_once(
    receiver: TeamsPagerDutyReceiver, tmp_path: Path
) -> None:
    secrets = secrets_for(receiver)
    receiver.stop()  # Teams and PagerDuty are down

    async def main() -> list[Any]:
        store = await _store(tmp_path)
        senders = Notifiers(trust_env=False)
        stop = asyncio.Event()
        try:
            service = NotifierService(
                store, senders, config_data=config_data(receiver), secrets=secrets,
                backoff=Backoff(base=0.3, factor=2.0, maximum=1.0), poll_interval=0.1,
            )  # fmt: skip
            runner = asyncio.create_task(service.run(stop=stop))
            await service.on_app(failed_app("payments", "r2", ALL))
            await asyncio.sleep(4.0)
            pending = await store.messages(status="pending")
            assert len(pending) == 3 and all(m.attempts >= 2 and m.last_error for m in pending)
            _no_secret_in([m.last_error or "" for m in pending], secrets)
            receiver.start()  # back up on the same port
            deadline = time.monotonic() + 15
            while await store.messages(status="pending") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)  # room for a duplicate to show up
            stop.set()
            await runner
            return await store.messages()
        finally:
            await senders.aclose()
            await store.close()

    messages = asyncio.run(main())
    assert [m.status for m in messages] == ["sent"] * 3
    assert len(receiver.at("/connector/deploys")) == 1
    assert len(receiver.at("/workflows/ops")) == 1
    assert len(receiver.events()) == 1


def test_refusals_fail_for_good_and_throttling_is_retried(
    receiver: TeamsPagerDutyReceiver, tmp_path: Path
) -> None:
    secrets = secrets_for(receiver)
    wrong = dict(secrets, **{"pagerduty-key": "NotTheRoutingKeyOfAnyService"})
    receiver.connector_answer = "Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0"

    async def main() -> tuple[list[Any], list[Any]]:
        store = await _store(tmp_path)
        senders = Notifiers(trust_env=False)
        try:
            service = NotifierService(
                store, senders, config_data=config_data(receiver), secrets=wrong,
                backoff=Backoff(base=0.2, factor=1.0, maximum=0.2),
            )  # fmt: skip
            await service.handle_app(
                failed_app("orders", "r3", {"pagerdutyv2": "prod-oncall", "teams": "deploys"})
            )
            await service.handle_app(failed_app("billing", "r4", {"teams": "nobody"}))
            await service.deliver_due()
            first = await store.messages()
            receiver.connector_answer = "1"  # the connector accepts again
            await asyncio.sleep(0.3)
            await service.deliver_due()
            assert await service.deliver_due() == 0
            return first, await store.messages()
        finally:
            await senders.aclose()
            await store.close()

    first, final = asyncio.run(main())
    by = {(m.app_name, m.service): m for m in first}
    pd = by[("orders", "pagerdutyv2")]
    assert (
        pd.status == "failed"
        and "HTTP 400" in (pd.last_error or "")
        and "Invalid routing key" in (pd.last_error or "")
    )
    throttled = by[("orders", "teams")]
    assert throttled.status == "pending" and "429" in (throttled.last_error or "")
    unknown = by[("billing", "teams")]
    assert unknown.status == "failed" and "no webhook URL in recipientUrls for 'nobody'" in (
        unknown.last_error or ""
    )
    _no_secret_in([m.last_error or "" for m in first], wrong)
    assert {(m.app_name, m.service): m.status for m in final} == {
        ("orders", "pagerdutyv2"): "failed",
        ("orders", "teams"): "sent",
        ("billing", "teams"): "failed",
    }
    assert len(receiver.events()) == 1  # the refused event was not sent again
    assert len(receiver.at("/connector/deploys")) == 2  # throttled once, then accepted
