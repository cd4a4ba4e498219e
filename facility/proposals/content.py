"""The canonical content of a proposal and its SHA-256: what a receipt vouches for."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from facility.attachments.models import Attachment
from facility.proposals.models import Proposal

CONTENT_FIELDS = (
    "title", "summary", "primary_priority", "secondary_priorities", "country_shares",
    "requested_amount", "total_budget", "duration_months", "planned_start",
    "gender_marker", "gender_justification",
    "climate_adaptation_marker", "climate_adaptation_justification",
    "climate_mitigation_marker", "climate_mitigation_justification",
    "logframe",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def canonical_content(
    proposal: Proposal, call_reference: str, attachments: Iterable[Attachment]
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "call": call_reference,
        "stage": proposal.stage,
        "organisation_id": str(proposal.organisation_id),
    }
    content.update({name: _plain(getattr(proposal, name)) for name in CONTENT_FIELDS})
    content["attachments"] = sorted(
        (
            {"kind": a.kind, "filename": a.filename, "media_type": a.media_type,
             "size": a.size, "sha256": a.sha256}
            for a in attachments
        ),
        key=lambda a: (a["kind"], a["sha256"], a["filename"]),
    )  # fmt: skip
    return content


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the same content, the same bytes."""
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()
