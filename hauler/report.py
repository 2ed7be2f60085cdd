"""The daily report's sections beyond task outcomes, and the report as a readable message.

Everything comes from rows: the activity log (task lifecycle and domain events), the
downloads, dead letters, autoscaler decisions, the notification log, and the newest
health report (the ``health_reports`` table, or the last ``health.checked`` event).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, or_, select, text
from sqlalchemy.orm import Session

from hauler.settings import Settings
from hauler.store.alerts_models import Notification
from hauler.store.autoscale_models import ScalingDecision
from hauler.store.db import session_scope
from hauler.store.downloads_models import Download
from hauler.store.models import Activity

RECOVERY_EVENTS = (
    "recovery.retry-started",
    "recovery.recovered",
    "recovery.retry-failed",
    "recovery.gave-up",
)
BACKUP_EVENTS = ("backup.made", "backup.verified", "backup.bad", "backup.pruned")


def downloads(session: Session, since: datetime) -> dict[str, Any]:
    """Finished downloads: count, bytes, per client, and the median rate (bytes/s)."""
    rows = session.execute(
        select(Download.client, Download.bytes, Download.seconds).where(
            Download.finished_at >= since
        )
    ).all()
    clients: dict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "bytes": 0})
    rates = []
    for client, size, seconds in rows:
        clients[client]["count"] += 1
        clients[client]["bytes"] += int(size)
        if seconds and seconds > 0:
            rates.append(size / seconds)
    return {
        "count": len(rows),
        "bytes": sum(int(r[1]) for r in rows),
        "by_client": dict(sorted(clients.items())),
        "median_rate_bytes_per_second": round(statistics.median(rates)) if rates else None,
    }


def _events(session: Session, since: datetime, kinds: Iterable[str]) -> list[tuple[str, dict]]:
    rows = session.execute(
        select(Activity.event_type, Activity.payload)
        .where(Activity.occurred_at >= since, Activity.event_type.in_(tuple(kinds)))
        .order_by(Activity.occurred_at, Activity.id)
    ).all()
    return [(str(kind), dict(payload or {})) for kind, payload in rows]


def failures(session: Session, since: datetime) -> dict[str, Any]:
    """Download failures by category and client, and what recovery did about them."""
    events = _events(session, since, ("download.failed", *RECOVERY_EVENTS))
    failed = [p for k, p in events if k == "download.failed"]
    recovery = Counter(k.removeprefix("recovery.") for k, _ in events if k != "download.failed")
    gave_up = Counter(
        str(p.get("category") or "unknown") for k, p in events if k.endswith("gave-up")
    )
    return {
        "download_failures": len(failed),
        "by_category": dict(Counter(str(p.get("category") or "unknown") for p in failed)),
        "by_client": dict(Counter(str(p.get("client") or "unknown") for p in failed)),
        "recovery": dict(recovery),
        "gave_up_by_category": dict(gave_up),
    }


def backups(session: Session, since: datetime) -> dict[str, int]:
    """Backups made, verified, found bad and pruned (from their events)."""
    counts = Counter(k.removeprefix("backup.") for k, _ in _events(session, since, BACKUP_EVENTS))
    return {name: counts.get(name, 0) for name in ("made", "verified", "bad", "pruned")}


def autoscaler(session: Session, since: datetime) -> dict[str, Any]:
    """Scaling actions per queue: how many up, how many down, the range of workers."""
    rows = session.execute(
        select(ScalingDecision.queue, ScalingDecision.from_workers, ScalingDecision.to_workers)
        .where(ScalingDecision.decided_at >= since)
        .order_by(ScalingDecision.decided_at)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for queue, before, after in rows:
        entry = out.setdefault(queue, {"up": 0, "down": 0, "max_workers": 0})
        entry["up" if after > before else "down"] += int(after != before)
        entry["max_workers"] = max(entry["max_workers"], after, before)
    return {"actions": sum(e["up"] + e["down"] for e in out.values()), "by_queue": out}


def alerts(session: Session, since: datetime) -> dict[str, Any]:
    """Alert notifications sent, resolved, failed; alerts held back, by reason."""
    rows = session.execute(
        select(Notification.kind, Notification.status, Notification.outcome, Notification.title)
        .where(Notification.at >= since, Notification.kind == "alert")
        .order_by(Notification.at)
    ).all()
    fired = sorted({title for _, status, outcome, title in rows if status == "firing"})
    suppressed: Counter[str] = Counter()
    for _, payload in _events(session, since, ("alert.suppressed",)):
        count = payload.get("count", 1)
        suppressed[str(payload.get("reason", "unknown"))] += count if isinstance(count, int) else 1
    return {
        "sent": sum(1 for _, _, outcome, _ in rows if outcome in ("sent", "deferred")),
        "resolved": sum(1 for _, status, o, _ in rows if status == "resolved" and o == "sent"),
        "failed": sum(1 for _, _, outcome, _ in rows if outcome == "failed"),
        "fired": fired,
        "suppressed": dict(suppressed),
    }


def health_now(session: Session) -> dict[str, Any] | None:
    """The newest health report: its row in ``health_reports`` if that table exists, else
    the payload of the last ``health.checked`` event."""
    bind = session.get_bind()
    if inspect(bind).has_table("health_reports"):
        columns = {c["name"] for c in inspect(bind).get_columns("health_reports")}
        order = next((c for c in ("checked_at", "created_at", "at", "id") if c in columns), None)
        if order:
            row = session.execute(
                text(f"SELECT * FROM health_reports ORDER BY {order} DESC LIMIT 1")
            ).first()
            if row is not None:
                return {k: _plain(v) for k, v in row._mapping.items()}
    event = session.execute(
        select(Activity.occurred_at, Activity.payload)
        .where(Activity.event_type == "health.checked")
        .order_by(Activity.occurred_at.desc())
        .limit(1)
    ).first()
    if event is None:
        return None
    return {"at": event[0].isoformat(), **dict(event[1] or {})}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def dead_letters_total(session: Session, since: datetime) -> int:
    from hauler.store.models import DeadLetter

    return int(session.scalar(select(func.count()).where(DeadLetter.last_failed_at >= since)) or 0)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def text_of(report: dict[str, Any], timezone: str) -> tuple[str, str]:
    """The report as a message: (title, text), for people."""
    out = report["outcomes"]
    dead = sum(out["dead_lettered"].values())
    title = (
        f"Hauler daily report: {out['succeeded']} tasks succeeded, {out['failed'] + dead} failed"
    )
    zone = ZoneInfo(timezone)
    since, until = (
        datetime.fromisoformat(report[k]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        for k in ("since", "until")
    )
    lines = [f"Period: {since} → {until} ({timezone})"]
    lines.append("*Tasks by queue*" + ("" if report["queues"] else ": none"))
    for queue, counts in report["queues"].items():
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        lines.append(f"  {queue}: {shown}")
    d = report["downloads"]
    rate = d["median_rate_bytes_per_second"]
    lines.append(
        f"*Downloads*: {d['count']} ({_size(d['bytes'])})"
        + (f", median {_size(rate)}/s" if rate else "")
    )
    for client, c in d["by_client"].items():
        lines.append(f"  {client}: {c['count']} ({_size(c['bytes'])})")
    f = report["failures"]
    lines.append(
        f"*Download failures*: {f['download_failures']} "
        + (str(f["by_category"]) if f["by_category"] else "")
    )
    if f["recovery"]:
        lines.append("  recovery: " + ", ".join(f"{k} {v}" for k, v in f["recovery"].items()))
    lines.append(f"*Dead letters*: {report['dead_letters_total']}")
    a = report["autoscaler"]
    lines.append(f"*Autoscaler*: {a['actions']} actions")
    b = report["backups"]
    lines.append(f"*Backups*: made {b['made']}, verified {b['verified']}, bad {b['bad']}")
    health = report.get("health")
    lines.append(f"*Health now*: {health.get('status', '?') if health else 'no report yet'}")
    al = report["alerts"]
    lines.append(
        f"*Alerts*: {al['sent']} sent, {al['resolved']} resolved, held back "
        + (", ".join(f"{k} {v}" for k, v in al["suppressed"].items()) or "none")
    )
    lines += [f"  • {t}" for t in al["fired"][:20]]
    return title, "\n".join(lines)


def _category(status: str | None, kind: str, payload: dict[str, Any]) -> str:
    if kind == "download.failed":
        return str(payload.get("category") or "unknown")
    if status == "DEAD_LETTERED":
        return f"dead-lettered:{payload.get('reason') or 'unknown'}"
    exception = str(payload.get("exception") or "unknown")
    return exception.split("(", 1)[0].split(":", 1)[0].strip()[:80] or "unknown"


def errors(settings: Settings, *, now: datetime, hours: int = 24) -> dict[str, Any]:
    """Failures in the window by task, category and hour (UTC).

    A task failure's category is its exception's class (or ``dead-lettered:<reason>``);
    a download failure's is the category the classification gave it.
    """
    since = now - timedelta(hours=hours)
    with session_scope(settings.database_url) as session:
        rows = session.execute(
            select(
                Activity.occurred_at,
                Activity.task_name,
                Activity.status,
                Activity.event_type,
                Activity.payload,
            )
            .where(
                Activity.occurred_at >= since,
                or_(
                    Activity.status.in_(("FAILURE", "DEAD_LETTERED")),
                    Activity.event_type == "download.failed",
                ),
            )
            .order_by(Activity.occurred_at)
        ).all()
    buckets: Counter[tuple[str, str, str]] = Counter()
    for when, name, status, kind, payload in rows:
        hour = when.astimezone(UTC).strftime("%Y-%m-%d %H:00")
        task = name or ("downloads (client)" if kind == "download.failed" else "?")
        buckets[(hour, task, _category(status, kind, dict(payload or {})))] += 1
    by_task: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    for (_, task, category), n in buckets.items():
        by_task[task] += n
        by_category[category] += n
    return {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "total": sum(buckets.values()),
        "by_task": dict(by_task.most_common()),
        "by_category": dict(by_category.most_common()),
        "by_hour": [
            {"hour": h, "task": t, "category": c, "count": n}
            for (h, t, c), n in sorted(buckets.items())
        ],
    }
