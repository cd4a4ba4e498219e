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
# What effects add to an applicant's own event about others (another organisation's reserve
# proposal that could be promoted when they decline): never shown to the applicant.
STAFF_ONLY_KEYS = frozenset({"promotion_candidate"})


def applicant_payload(event: AuditEvent) -> dict[str, Any]:
    """The part of an event's payload an applicant may read."""
    own = event.actor_role == "applicant"
    return {
        k: v
        for k, v in event.payload.items()
        if (own or k in event.applicant_visible) and k not in STAFF_ONLY_KEYS
    }


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
                e, e.comment if own else None, applicant_payload(e), e.actor_id if own else None
            )
        )
    return entries


def view_for(role: str, events: Iterable[AuditEvent]) -> list[HistoryEntry]:
    """Fund managers see everything; applicants their side (the only other readers)."""
    return staff_view(events) if role == "fund_manager" else applicant_view(events)
