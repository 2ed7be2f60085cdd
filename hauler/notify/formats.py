"""A message in each receiver's format, within that service's documented limits.

- Slack (incoming webhook): ``text`` plus Block Kit blocks; a header block takes 150
  characters of plain text, a section 3,000, a message 50 blocks.
- Discord (webhook): ``content`` up to 2,000 characters; an embed's title 256,
  description 4,096, 25 fields (name 256, value 1,024), footer 2,048, and 6,000
  characters across all of a message's embeds. Mentions are never parsed.
- json (generic webhook): Alertmanager's webhook format, version 4, plus ``title`` and
  ``text``; a receiver written for Alertmanager reads it as it is.

Text over a limit is cut with a note saying how much was left out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hauler.notify.message import Message, cut

SLACK_HEADER = 150
SLACK_SECTION = 3000
SLACK_BLOCKS = 50
DISCORD_CONTENT = 2000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_EMBED_TOTAL = 6000
DISCORD_MIN_DESCRIPTION = 200  # room kept for the description when fields are many

_EMOJI = {"resolved": "✅", "critical": "🔴", "warning": "🟠", "info": "ℹ️"}  # noqa: RUF001


def render(kind: str, message: Message, receiver: str) -> dict[str, Any]:
    """The JSON body to POST to a ``kind`` receiver called ``receiver``."""
    if kind == "slack":
        return slack(message)
    if kind == "discord":
        return discord(message)
    return generic(message, receiver)


def _headline(message: Message) -> str:
    mark = _EMOJI.get("resolved" if message.status == "resolved" else message.severity, "")
    return f"{mark} {message.title}".strip()


def _body(message: Message) -> str:
    lines = [message.text] if message.text else []
    lines += [f"{name}: {value}" for name, value in message.fields]
    return "\n".join(lines)


def slack(message: Message) -> dict[str, Any]:
    """Slack's incoming-webhook body: a header and the text in sections."""
    headline = _headline(message)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(headline, SLACK_HEADER)}}
    ]
    body = _body(message)
    if body:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(body, SLACK_SECTION)}}
        )
    return {"text": cut(headline, SLACK_SECTION), "blocks": blocks[:SLACK_BLOCKS]}


def discord(message: Message) -> dict[str, Any]:
    """Discord's webhook body: a short content line and one embed, within every limit."""
    fields: list[dict[str, Any]] = [
        {
            "name": cut(name, DISCORD_FIELD_NAME) or "-",
            "value": cut(value, DISCORD_FIELD_VALUE) or "-",
            "inline": len(value) < 40,
        }
        for name, value in message.fields[:DISCORD_FIELDS]
    ]
    title = cut(_headline(message), DISCORD_TITLE)
    footer = "hauler" + (f" · {message.group_key}" if message.group_key else "")
    footer = cut(footer, DISCORD_FOOTER)
    budget = DISCORD_EMBED_TOTAL - len(title) - len(footer) - DISCORD_MIN_DESCRIPTION
    kept: list[dict[str, Any]] = []
    for item in fields:
        size = len(item["name"]) + len(item["value"])
        if size > budget:
            break
        kept.append(item)
        budget -= size
    left_out = len(message.fields) - len(kept)
    note = f"\n({left_out} more fields left out: the embed is full)" if left_out else ""
    room = min(DISCORD_DESCRIPTION, budget + DISCORD_MIN_DESCRIPTION)
    description = cut(message.text, room - len(note)) + note
    fields = kept
    embed = {
        "title": title,
        "description": description,
        "color": message.colour,
        "fields": fields,
        "footer": {"text": footer},
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return {
        "content": cut(_headline(message), DISCORD_CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def generic(message: Message, receiver: str) -> dict[str, Any]:
    """Alertmanager's webhook message (version 4), with Hauler's title and text added."""
    alerts = list(message.alerts)
    common = _common([a.get("labels") or {} for a in alerts])
    return {
        "version": "4",
        "groupKey": message.group_key,
        "truncatedAlerts": 0,
        "status": message.status if message.status in ("firing", "resolved") else "firing",
        "receiver": receiver,
        "groupLabels": {k: v for k, v in common.items() if k == "alertname"},
        "commonLabels": common,
        "commonAnnotations": _common([a.get("annotations") or {} for a in alerts]),
        "externalURL": "",
        "alerts": alerts,
        "title": message.title,
        "text": _body(message),
        "severity": message.severity,
        "kind": message.kind,
        **({"data": message.extra} if message.extra else {}),
    }


def _common(maps: list[dict[str, Any]]) -> dict[str, Any]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}
