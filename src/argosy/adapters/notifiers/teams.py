"""Microsoft Teams: ``service.teams`` (Office 365 connector webhooks, MessageCard) and
``service.teams-workflows`` (Power Automate "Workflows" webhooks, Adaptive Card).

Settings: ``recipientUrls`` (recipient -> webhook URL, usually ``$key`` references to
argocd-notifications-secret, since the URL is the credential), ``insecureSkipVerify``. The recipient
is the channel name of ``recipientUrls``.

Template fields, as Argo CD's notifications-engine: ``teams.{title, summary, text, themeColor, facts,
sections, potentialAction, template}`` and ``teams-workflows.{title, summary, text, themeColor,
facts, sections, potentialAction, adaptiveCard}``; ``facts``, ``sections``, ``potentialAction``,
``adaptiveCard`` and ``template`` hold JSON text. ``message`` is the text when ``text`` is empty.

Accepted: an O365 connector answers 2xx with the body ``1`` (it reports throttling and other errors
as 2xx with an error text, which is not accepted); a workflow answers 2xx (usually 202). Webhook
URLs never appear in errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from argosy.adapters.notifiers._common import (
    as_bool,
    block,
    classify_http,
    json_field,
    message_text,
    scrub,
    scrubbed,
    transport_error,
)
from argosy.ports.notify import DeliveryTarget, PermanentDeliveryError, RetryableDeliveryError

__all__ = ["TeamsNotifier", "build_adaptive_card_message", "build_message_card"]

MESSAGE_CARD_CONTEXT = "https://schema.org/extensions"
ADAPTIVE_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def _json_list(fields: Mapping[str, Any], name: str, what: str) -> list[Any] | None:
    value = json_field(fields.get(name), what)
    if value is None:
        return None
    if not isinstance(value, list):
        raise PermanentDeliveryError(f"{what} must be a JSON list")
    return value


def build_message_card(rendered: Mapping[str, Any]) -> bytes:
    """The request body for an O365 connector: ``teams.template`` as is, else a MessageCard."""
    teams = block(rendered, "teams")
    template = _text(teams, "template")
    if template.strip():
        json_field(template, "teams.template")  # must be JSON; sent byte for byte
        return template.encode("utf-8")
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": MESSAGE_CARD_CONTEXT,
        "title": _text(teams, "title"),
        "summary": _text(teams, "summary"),
        "text": _text(teams, "text") or message_text(rendered),
    }
    if theme := _text(teams, "themeColor"):
        card["themeColor"] = theme
    sections = _json_list(teams, "sections", "teams.sections") or []
    facts = _json_list(teams, "facts", "teams.facts")
    if facts is not None:
        sections = [*sections, {"facts": facts}]
    if sections:
        card["sections"] = sections
    actions = _json_list(teams, "potentialAction", "teams.potentialAction")
    if actions is not None:
        card["potentialAction"] = actions
    return json.dumps(card, ensure_ascii=False).encode("utf-8")


def _fact_set(facts: list[Any]) -> dict[str, Any] | None:
    out = []
    for fact in facts:
        if isinstance(fact, Mapping) and isinstance(fact.get("name"), str):
            value = fact.get("value", "")
            out.append(
                {"title": fact["name"], "value": value if isinstance(value, str) else json.dumps(value)}
            )
    return {"type": "FactSet", "facts": out} if out else None


def build_adaptive_card_message(rendered: Mapping[str, Any]) -> bytes:
    """The request body for a Workflows webhook: ``{"type": "message", "attachments": [card]}`` with
    ``teams-workflows.adaptiveCard`` (passed through whole) or a card built from the other fields."""
    fields = block(rendered, "teams-workflows")
    custom = json_field(fields.get("adaptiveCard"), "teams-workflows.adaptiveCard")
    if custom is not None:
        if not isinstance(custom, Mapping):
            raise PermanentDeliveryError("teams-workflows.adaptiveCard must be a JSON object")
        card: dict[str, Any] = dict(custom)
    else:
        body: list[dict[str, Any]] = []
        title = _text(fields, "title")
        if title:
            heading: dict[str, Any] = {
                "type": "TextBlock",
                "text": title,
                "size": "Large",
                "weight": "Bolder",
            }
            if color := _text(fields, "themeColor"):
                heading["color"] = color
            heading["wrap"] = True
            body.append(heading)
        text = _text(fields, "text") or message_text(rendered)
        if text:
            body.append({"type": "TextBlock", "text": text, "wrap": True})
        facts = _json_list(fields, "facts", "teams-workflows.facts")
        if facts and (fact_set := _fact_set(facts)) is not None:
            body.append(fact_set)
        for section in _json_list(fields, "sections", "teams-workflows.sections") or []:
            facts_of_section = section.get("facts") if isinstance(section, Mapping) else None
            if isinstance(facts_of_section, list) and (fact_set := _fact_set(facts_of_section)) is not None:
                body.append(fact_set)
        card = {"type": "AdaptiveCard", "version": "1.4", "body": body}
        actions = []
        for action in _json_list(fields, "potentialAction", "teams-workflows.potentialAction") or []:
            if not isinstance(action, Mapping) or action.get("@type") != "OpenUri":
                continue
            targets = action.get("targets")
            first = targets[0] if isinstance(targets, list) and targets else None
            uri = first.get("uri") if isinstance(first, Mapping) else None
            if isinstance(uri, str) and uri:
                entry: dict[str, Any] = {"type": "Action.OpenUrl"}
                if isinstance(action.get("name"), str):
                    entry["title"] = action["name"]
                entry["url"] = uri
                actions.append(entry)
        if actions:
            card["actions"] = actions
    message = {"type": "message", "attachments": [{"contentType": ADAPTIVE_CONTENT_TYPE, "content": card}]}
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


class TeamsNotifier:
    """``workflows=False``: ``service.teams`` (MessageCard); ``True``: ``service.teams-workflows``."""

    def __init__(
        self, client: httpx.AsyncClient, insecure_client: httpx.AsyncClient | None = None, *, workflows: bool
    ) -> None:
        self._client = client
        self._insecure = insecure_client
        self._workflows = workflows

    async def send(self, destination: DeliveryTarget, rendered: Mapping[str, Any]) -> None:
        settings = destination.settings
        kind = "teams-workflows" if self._workflows else "teams"
        what = f"{kind} {destination.service}:{destination.recipient}"
        urls = settings.get("recipientUrls")
        url = urls.get(destination.recipient) if isinstance(urls, Mapping) else None
        if not isinstance(url, str) or not url:
            raise PermanentDeliveryError(
                f"{what}: no webhook URL in recipientUrls for {destination.recipient!r}"
            )
        secrets = [url, url.split("?", 1)[0]]
        content = build_adaptive_card_message(rendered) if self._workflows else build_message_card(rendered)
        client = self._client
        if as_bool(settings.get("insecureSkipVerify", False)) and self._insecure is not None:
            client = self._insecure
        try:
            response = await client.post(url, content=content, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise scrubbed(transport_error(exc, what), secrets) from None
        try:
            classify_http(response, what)
        except (RetryableDeliveryError, PermanentDeliveryError) as exc:
            raise scrubbed(exc, secrets) from None
        if self._workflows:
            return
        answer = response.text.strip()
        if answer in ("1", ""):
            return
        detail = scrub(answer[:300], secrets)
        if "429" in answer or "throttl" in answer.lower():
            raise RetryableDeliveryError(f"{what}: the connector refused the message: {detail}")
        raise PermanentDeliveryError(f"{what}: the connector refused the message: {detail}")
