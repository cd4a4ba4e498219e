"""Who sees what of a timeline."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from facility.audit.models import AuditEvent


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    comment: str | None
    payload: dict[str, Any]
    actor_id: uuid.UUID | None


def staff_view(events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    return [HistoryEntry(e, e.comment, dict(e.payload), e.actor_id) for e in events]


# The facility's working notes: not part of the applicant's timeline at all.
STAFF_ONLY_EVENTS = frozenset({"proposal.screening_recorded"})


def applicant_view(events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    """The applicant's side: their own entries in full; of the facility's, no internal
    comments, no staff identities, and only the payload fields the workflow marks as theirs."""
    entries = []
    for e in events:
        if e.event in STAFF_ONLY_EVENTS:
            continue
        own = e.actor_role == "applicant"
        entries.append(
            HistoryEntry(
                e,
                e.comment if own else None,
                {k: v for k, v in e.payload.items() if own or k in e.applicant_visible},
                e.actor_id if own else None,
            )
        )
    return entries


def view_for(role: str, events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    """Fund managers see everything; applicants their side (the only other readers)."""
    return staff_view(events) if role == "fund_manager" else applicant_view(events)
