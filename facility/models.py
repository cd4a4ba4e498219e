"""Every mapped model, imported once so the metadata (and Alembic) sees all tables."""

from facility.attachments.models import Attachment
from facility.audit.models import AuditEvent
from facility.calls.models import Call
from facility.db.base import Base
from facility.evaluation.models import Assignment, Evaluation, EvaluationResult, EvaluatorProfile
from facility.grants.models import Grant, Payment, Report, ReportAttachment
from facility.identity.models import Organisation, User
from facility.notifications.models import OutboxMessage
from facility.proposals.models import IdempotencyKey, Proposal, ProposalSubmission
from facility.screening.models import Screening

__all__ = [
    "Assignment",
    "Attachment",
    "AuditEvent",
    "Base",
    "Call",
    "Evaluation",
    "EvaluationResult",
    "EvaluatorProfile",
    "Grant",
    "IdempotencyKey",
    "Organisation",
    "OutboxMessage",
    "Payment",
    "Proposal",
    "ProposalSubmission",
    "Report",
    "ReportAttachment",
    "Screening",
    "User",
]
