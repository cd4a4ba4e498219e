"""Every mapped model, imported once so the metadata (and Alembic) sees all tables."""

from facility.attachments.models import Attachment
from facility.audit.models import AuditEvent
from facility.calls.models import Call
from facility.db.base import Base
from facility.identity.models import Organisation, User
from facility.proposals.models import IdempotencyKey, Proposal, ProposalSubmission

__all__ = [
    "Attachment",
    "AuditEvent",
    "Base",
    "Call",
    "IdempotencyKey",
    "Organisation",
    "Proposal",
    "ProposalSubmission",
    "User",
]
