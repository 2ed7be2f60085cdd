"""The decision log: every scaling action stored with its reason; the last N kept."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select

from autoscale.policy import Decision
from hauler.store.autoscale_models import ScalingDecision
from hauler.store.db import session_scope


def record(
    url: str, decision: Decision, backend: str, *, keep: int, now: datetime | None = None
) -> None:
    """Store ``decision`` and delete all but the newest ``keep`` rows."""
    with session_scope(url) as session:
        session.add(
            ScalingDecision(
                decided_at=now or datetime.now(UTC),
                queue=decision.queue,
                from_workers=decision.current,
                to_workers=decision.desired,
                reason=decision.reason,
                signals=decision.signals,
                backend=backend,
            )
        )
        session.flush()
        cutoff = session.scalar(
            select(ScalingDecision.id).order_by(ScalingDecision.id.desc()).offset(keep).limit(1)
        )
        if cutoff is not None:
            session.execute(delete(ScalingDecision).where(ScalingDecision.id <= cutoff))


def recent(url: str, limit: int = 10, queue: str | None = None) -> list[ScalingDecision]:
    """The newest decisions first."""
    with session_scope(url) as session:
        query = select(ScalingDecision).order_by(ScalingDecision.id.desc()).limit(limit)
        if queue:
            query = query.where(ScalingDecision.queue == queue)
        return list(session.scalars(query))
