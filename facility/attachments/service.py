"""Attach files to a proposal while its applicant may edit it; read them with its access."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from facility.attachments import sniff
from facility.attachments.models import Attachment
from facility.attachments.storage import ContentStore, StagedFile
from facility.errors import Conflict, Forbidden, NotFound, UnsupportedMediaType
from facility.lifecycle import Actor
from facility.proposals.models import Proposal
from facility.proposals.service import ensure_editable, get_proposal, touch


async def receive_file(
    store: ContentStore, filename: str, chunks: AsyncIterator[bytes], max_bytes: int
) -> tuple[StagedFile, str]:
    """Receive an upload and check it by name and content before any database row is locked
    (so no row lock, nor SQLite's write lock, is held while bytes arrive)."""
    expected = sniff.expected_type(filename)
    if expected is None:
        raise UnsupportedMediaType(
            f"Allowed file types: {', '.join(sniff.ALLOWED_EXTENSIONS)} (by name and content)"
        )
    staged = await store.stage(chunks, max_bytes)
    try:
        detected = await asyncio.to_thread(sniff.detect, staged.path)
        if staged.size == 0:
            raise UnsupportedMediaType("The file is empty")
        if detected != expected:
            raise UnsupportedMediaType(
                "The file's content does not match its name: expected "
                f"{expected}, found {detected or 'an unrecognised format'}"
            )
    except BaseException:
        store.discard(staged)
        raise
    return staged, expected


async def add_attachment(
    session: AsyncSession,
    store: ContentStore,
    actor: Actor,
    proposal_id: uuid.UUID,
    *,
    kind: str,
    filename: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    now: datetime,
) -> Attachment:
    if actor.role != "applicant" or actor.id is None:
        raise Forbidden("Only the applicant attaches files to a proposal")
    staged, detected = await receive_file(store, filename, chunks, max_bytes)
    try:
        proposal = await get_proposal(session, actor, proposal_id, lock=True)
        ensure_editable(proposal)
        await asyncio.to_thread(store.commit, staged)
    finally:
        store.discard(staged)
    attachment = Attachment(
        proposal_id=proposal.id,
        stage=proposal.stage,
        kind=kind,
        filename=sniff.safe_display_name(filename),
        media_type=detected,
        size=staged.size,
        sha256=staged.sha256,
        uploaded_by_id=actor.id,
        uploaded_at=now,
    )
    session.add(attachment)
    touch(proposal, now)  # the proposal's representation (and ETag) changes with it
    await session.flush()
    return attachment


async def get_attachment(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[Proposal, Attachment]:
    proposal = await get_proposal(session, actor, proposal_id)
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or attachment.proposal_id != proposal.id:
        raise NotFound("No such attachment")
    return proposal, attachment


async def remove_attachment(
    session: AsyncSession,
    actor: Actor,
    proposal_id: uuid.UUID,
    attachment_id: uuid.UUID,
    *,
    now: datetime,
) -> None:
    proposal = await get_proposal(session, actor, proposal_id, lock=True)
    if actor.role != "applicant":
        raise Forbidden("Only the applicant removes files from a proposal")
    _, attachment = await get_attachment(session, actor, proposal_id, attachment_id)
    ensure_editable(proposal)
    if attachment.stage != proposal.stage:
        raise Conflict("Files submitted at an earlier stage are part of that submission")
    await session.delete(attachment)
    touch(proposal, now)
    await session.flush()
