"""The notifier end to end: spec §7.3's configuration (examples/sophia-platform, pitfalls fixed) with
real receivers on 127.0.0.1: an SMTP server with STARTTLS and AUTH (aiosmtpd), and an HTTP server
playing Slack's Web API and the deployment-tracker webhook. The outbox is SQLite."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from argosy.adapters.db import SqlStore, default_sqlite_url, open_store
from argosy.adapters.metrics import PrometheusMetrics, exposition
from argosy.adapters.notifiers import Notifiers, SlackNotifier, WebhookNotifier
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError, RetryableDeliveryError
from argosy.services.notifier import Backoff, NotifierService, redact_secrets, restore_secrets
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CM = ROOT / "examples/sophia-platform/argocd/config/argocd-notifications-cm.yaml"
SECRETS = {
    "slack-token": "xoxb-test-slack-token-1234",
    "email-username": "argocd-mailer",
    "email-password": "test-smtp-password-5678",
    "webhook-token": "test-webhook-token-9012",
}
EMAIL = "platform-team@sophia-intel-ai.com"


def config_data(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, str]:
    """The example ConfigMap with the services pointed at the loopback receivers (nothing else changed)."""
    data: dict[str, str] = yaml.safe_load(CM.read_text())["data"]
    slack = yaml.safe_load(data["service.slack"])
    slack["apiURL"] = f"{http.url}/api/"
    data["service.slack"] = yaml.safe_dump(slack)
    email = yaml.safe_load(data["service.email"])
    email.update(host="127.0.0.1", port=smtp.port)
    data["service.email"] = yaml.safe_dump(email)
    hook = yaml.safe_load(data["service.webhook.deployment-tracker"])
    hook["url"] = f"{http.url}/webhooks/argocd"
    data["service.webhook.deployment-tracker"] = yaml.safe_dump(hook)
    return data


def app(
    name: str, labels: dict[str, str], *, phase: str, health: str, revision: str, started: str
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels},
        "spec": {
            "project": "default",
            "source": {"repoURL": "http://127.0.0.1/repo.git", "path": name, "targetRevision": "HEAD"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": health},
            "operationState": {
                "phase": phase,
                "message": 'one or more objects failed to apply: "quota" exceeded\nsecond line'
                if phase == "Failed"
                else "successfully synced (all tasks run)",
                "startedAt": started,
                "finishedAt": started,
                "syncResult": {"revision": revision},
            },
        },
    }


PROD = {"environment": "production", "app.kubernetes.io/part-of": "artemis-suite"}
SOPHIA_STAGING = {"environment": "staging", "app.kubernetes.io/part-of": "sophia-suite"}
UNSUBSCRIBED = {"environment": "staging"}


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, SmtpReceiver]]:
    http = HttpReceiver(SECRETS["slack-token"])
    smtp = SmtpReceiver(SECRETS["email-username"], SECRETS["email-password"])
    http.start()
    smtp.start()
    try:
        yield http, smtp
    finally:
        http.stop()
        smtp.stop()


def make_service(store: SqlStore, senders: Notifiers, data: dict[str, str], **kw: Any) -> NotifierService:
    return NotifierService(store, senders, config_data=data, secrets=SECRETS, **kw)


def test_spec_configuration_reaches_exactly_the_subscribed_recipients(
    receivers: tuple[HttpReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    http, smtp = receivers
    data = config_data(http, smtp)
    url = default_sqlite_url(tmp_path / "argosy.db")
    metrics = PrometheusMetrics()

    async def main() -> None:
        store = await open_store(url)
        senders = Notifiers(trust_env=False, tls_context=smtp.client_tls)
        try:
            service = make_service(store, senders, data, metrics=metrics)
            apps = [
                app("artemis-web", PROD, phase="Succeeded", health="Healthy", revision="r1",
                    started="2026-11-25T10:00:00Z"),
                app("sophia-api", SOPHIA_STAGING, phase="Succeeded", health="Healthy", revision="s1",
                    started="2026-11-25T10:00:00Z"),
                app("loner", UNSUBSCRIBED, phase="Succeeded", health="Healthy", revision="l1",
                    started="2026-11-25T10:00:00Z"),
            ]  # fmt: skip
            for a in apps:
                await service.handle_app(a)
            # the same state again (a resync, a health re-check): nothing new is queued
            for a in apps:
                assert await service.handle_app(a) == []
            assert await service.deliver_due() == 5
            failed = [
                app("artemis-web", PROD, phase="Failed", health="Healthy", revision="r2",
                    started="2026-11-25T11:00:00Z"),
                app("sophia-api", SOPHIA_STAGING, phase="Error", health="Healthy", revision="s2",
                    started="2026-11-25T11:00:00Z"),
            ]  # fmt: skip
            for a in failed:
                await service.handle_app(a)
                await service.handle_app(a)  # a retry of the same operation: once per operation
            assert await service.deliver_due() == 5
            assert await service.deliver_due() == 0
            assert [m.status for m in await store.messages()] == ["sent"] * 10
            # nothing stored holds a secret value
            for m in await store.messages():
                text = json.dumps(m.payload)
                assert not any(v in text for v in SECRETS.values())
        finally:
            await senders.aclose()
            await store.close()

    asyncio.run(main())

    slack = http.slack_messages()
    by_channel = Counter(m["channel"] for m in slack)
    assert by_channel == {"platform-alerts": 2, "artemis-team": 2, "sophia-team": 2}
    titles = Counter((m["channel"], m["attachments"][0]["title"]) for m in slack)
    assert titles[("artemis-team", "✅ Deployment Successful")] == 1
    assert titles[("sophia-team", "❌ Sync Failed")] == 1
    failure = next(
        m for m in slack if m["channel"] == "platform-alerts" and m["attachments"][0]["color"] == "danger"
    )
    # the error message has quotes and a newline: it arrives intact because the template uses toJson
    assert failure["attachments"][0]["fields"][0]["value"].startswith(
        'one or more objects failed to apply: "quota"'
    )
    assert "Error:" in failure["text"]

    mails = smtp.received()
    assert [rcpt for _, rcpt, _ in mails] == [[EMAIL], [EMAIL]]
    assert {m["Subject"] for _, _, m in mails} == {
        "artemis-web deployed successfully",
        "❌ artemis-web sync failed",
    }
    assert all(sender == "argocd@sophia-intel-ai.com" for sender, _, _ in mails)

    hooks = http.at("/webhooks/argocd")
    assert [json.loads(h.body)["event"] for h in hooks] == ["deployed", "sync-failed"]
    assert all(h.headers["Authorization"] == f"Bearer {SECRETS['webhook-token']}" for h in hooks)
    assert all(json.loads(h.body)["app"] == "artemis-web" for h in hooks)

    text = exposition(metrics).decode()
    assert (
        'argocd_notifications_deliveries_total{service="slack",succeeded="true",trigger="on-deployed"} 3.0'
        in text
    )
    assert 'argocd_notifications_trigger_eval_total{name="on-sync-failed",triggered="true"}' in text


def test_receiver_down_then_up_gets_each_message_once_and_state_survives_restart(
    receivers: tuple[HttpReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    http, smtp = receivers
    data = config_data(http, smtp)
    url = default_sqlite_url(tmp_path / "argosy.db")
    deployed = app("artemis-web", PROD, phase="Succeeded", health="Healthy", revision="r9",
                   started="2026-11-25T12:00:00Z")  # fmt: skip
    http.stop()  # Slack and the webhook are down; SMTP is up

    async def main() -> None:
        store = await open_store(url)
        senders = Notifiers(trust_env=False, tls_context=smtp.client_tls)
        stop = asyncio.Event()
        try:
            service = make_service(
                store, senders, data, backoff=Backoff(base=0.5, factor=2.0, maximum=4.0), poll_interval=0.2
            )
            runner = asyncio.create_task(service.run(stop=stop))
            await service.on_app(deployed)
            await asyncio.sleep(30.0)  # down for 30 s (the figure): failed attempts with backoff
            pending = await store.messages(status="pending")
            assert len(pending) == 3  # slack:platform-alerts, deployment-tracker, slack:artemis-team
            assert all(m.attempts >= 2 and m.last_error for m in pending)
            assert len(await store.messages(status="sent")) == 1  # the email went through meanwhile
            http.start()  # back up, same port
            deadline = time.monotonic() + 15
            while await store.messages(status="pending") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # give a duplicate a chance to show up
            stop.set()
            await runner
            assert await store.messages(status="pending") == []
        finally:
            await senders.aclose()
            await store.close()

        # A restarted notifier (new store connection, new service) has the dedupe state: no resend.
        store = await open_store(url)
        senders = Notifiers(trust_env=False, tls_context=smtp.client_tls)
        try:
            service = make_service(store, senders, data)
            assert await service.handle_app(deployed) == []
            assert await service.deliver_due() == 0
        finally:
            await senders.aclose()
            await store.close()

    asyncio.run(main())
    assert Counter(m["channel"] for m in http.slack_messages()) == {"platform-alerts": 1, "artemis-team": 1}
    assert len(http.at("/webhooks/argocd")) == 1
    assert len(smtp.received()) == 1


def test_permanent_failure_is_not_retried(
    receivers: tuple[HttpReceiver, SmtpReceiver], tmp_path: Path
) -> None:
    http, smtp = receivers
    data = config_data(http, smtp)
    bad = dict(SECRETS, **{"slack-token": "xoxb-wrong"})
    url = default_sqlite_url(tmp_path / "argosy.db")

    async def main() -> None:
        store = await open_store(url)
        senders = Notifiers(trust_env=False, tls_context=smtp.client_tls)
        try:
            service = NotifierService(store, senders, config_data=data, secrets=bad)
            await service.handle_app(
                app("sophia-api", SOPHIA_STAGING, phase="Succeeded", health="Healthy", revision="s1",
                    started="2026-11-25T10:00:00Z")
            )  # fmt: skip
            await service.deliver_due()
            (msg,) = await store.messages()
            assert msg.status == "failed" and "invalid_auth" in (msg.last_error or "")
            assert await service.deliver_due() == 0
        finally:
            await senders.aclose()
            await store.close()

    asyncio.run(main())
    assert len(http.slack_messages()) == 1


def test_secret_values_are_replaced_in_stored_payloads_and_restored_for_sending() -> None:
    body = {"message": "token=xoxb-test-slack-token-1234 ok", "webhook": {"x": {"body": "[argocd-mailer]"}}}
    stored = redact_secrets(body, SECRETS)
    assert "xoxb" not in json.dumps(stored) and "argocd-mailer" not in json.dumps(stored)
    assert restore_secrets(stored, SECRETS) == body


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(base=1.0, factor=2.0, maximum=10.0)
    assert [b.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=b.delay(3)) == datetime(
        2026, 1, 1, 0, 0, 4, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"ok", None),
        (500, b"boom", RetryableDeliveryError),
        (429, b"slow down", RetryableDeliveryError),
        (404, b"no such hook", PermanentDeliveryError),
        (401, b"bad token", PermanentDeliveryError),
    ],
)
def test_webhook_status_codes_are_classified(
    status: int, body: bytes, expected: type[Exception] | None
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers={"Retry-After": "7"} if status == 429 else {})

    target = DeliveryTarget(
        "tracker",
        "webhook",
        "",
        {"url": "http://127.0.0.1:9/hooks", "headers": [{"name": "X-Token", "value": "t"}],
         "basicAuth": {"username": "u", "password": "p"}},
    )  # fmt: skip
    rendered = {"webhook": {"tracker": {"method": "PUT", "path": "/deploy", "body": '{"a": 1}'}}}

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await WebhookNotifier(client).send(target, rendered)

    if expected is None:
        asyncio.run(main())
    else:
        with pytest.raises(expected) as info:
            asyncio.run(main())
        if status == 429:
            assert isinstance(info.value, RetryableDeliveryError) and info.value.retry_after == 7.0
    (request,) = seen
    assert request.method == "PUT" and str(request.url) == "http://127.0.0.1:9/hooks/deploy"
    assert request.headers["X-Token"] == "t" and request.headers["Authorization"].startswith("Basic ")
    assert request.content == b'{"a": 1}'


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"ok": True}, None),
        ({"ok": False, "error": "ratelimited"}, RetryableDeliveryError),
        ({"ok": False, "error": "channel_not_found"}, PermanentDeliveryError),
    ],
)
def test_slack_api_answers_are_classified(answer: dict[str, Any], expected: type[Exception] | None) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/chat.postMessage"
        return httpx.Response(200, json=answer)

    target = DeliveryTarget("slack", "slack", "ops", {"token": "x", "apiURL": "http://127.0.0.1:9/api/"})

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await SlackNotifier(client).send(target, {"message": "hi"})

    if expected is None:
        asyncio.run(main())
    else:
        with pytest.raises(expected):
            asyncio.run(main())


def test_slack_incoming_webhook() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    target = DeliveryTarget(
        "slack", "slack", "ops", {"webhookURL": "http://127.0.0.1:9/hook", "icon": ":rocket:"}
    )
    rendered = {"message": "hi", "slack": {"attachments": '[{"title": "t"}]'}}

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            await SlackNotifier(client).send(target, rendered)

    asyncio.run(main())
    assert seen == [
        {"text": "hi", "channel": "ops", "attachments": [{"title": "t"}], "icon_emoji": ":rocket:"}
    ]
