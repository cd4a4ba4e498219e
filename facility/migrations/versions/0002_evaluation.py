"""Screening, evaluator profiles, assignments, evaluations and their consolidated results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# A submitted evaluation is final: the database refuses to change or delete it.
FINAL_SQLITE = """
CREATE TRIGGER evaluations_final_{op} BEFORE {OP} ON evaluations
WHEN OLD.submitted_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a submitted evaluation is final'); END
"""
FINAL_PG_FUNCTION = """
CREATE FUNCTION evaluations_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.submitted_at IS NOT NULL THEN
    RAISE EXCEPTION 'a submitted evaluation is final';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$
"""
FINAL_PG_TRIGGER = """
CREATE TRIGGER evaluations_final BEFORE UPDATE OR DELETE ON evaluations
FOR EACH ROW EXECUTE FUNCTION evaluations_final()
"""


def upgrade() -> None:
    op.create_table(
        "evaluator_profiles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expertise", JSON, nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column("countries", JSON, nullable=False),
        sa.Column("affiliations", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_evaluator_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_evaluator_profiles")),
    )
    op.create_table(
        "assignments",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("evaluator_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("is_arbitration", sa.Boolean(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by_id", sa.Uuid(), nullable=True),
        sa.Column("override_justification", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("conflict_of_interest", sa.Boolean(), nullable=True),
        sa.Column("declaration_statement", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["users.id"], name=op.f("fk_assignments_assigned_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_assignments_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["evaluator_id"], ["users.id"], name=op.f("fk_assignments_evaluator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_assignments_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
        sa.UniqueConstraint(
            "proposal_id",
            "evaluator_id",
            "stage",
            name=op.f("uq_assignments_proposal_id_evaluator_id_stage"),
        ),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_call_id", ["call_id"], unique=False)
        batch_op.create_index(
            "ix_assignments_evaluator_id_status", ["evaluator_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assignments_status"), ["status"], unique=False)

    op.create_table(
        "evaluation_results",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("section_scores", JSON, nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("spread", sa.BigInteger(), nullable=False),
        sa.Column("evaluations_count", sa.Integer(), nullable=False),
        sa.Column("gender_marker", sa.Integer(), nullable=False),
        sa.Column("climate_adaptation_marker", sa.Integer(), nullable=False),
        sa.Column("climate_mitigation_marker", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_evaluation_results_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_evaluation_results_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_results")),
        sa.UniqueConstraint(
            "proposal_id", "stage", name=op.f("uq_evaluation_results_proposal_id_stage")
        ),
    )
    op.create_table(
        "screenings",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("automatic_checks", JSON, nullable=False),
        sa.Column("checklist", JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_screenings_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_screenings_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screenings")),
        sa.UniqueConstraint("proposal_id", "stage", name=op.f("uq_screenings_proposal_id_stage")),
    )
    op.create_table(
        "evaluations",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("section_comments", JSON, nullable=False),
        sa.Column("gender_marker", sa.Integer(), nullable=True),
        sa.Column("gender_justification", sa.Text(), nullable=True),
        sa.Column("climate_adaptation_marker", sa.Integer(), nullable=True),
        sa.Column("climate_adaptation_justification", sa.Text(), nullable=True),
        sa.Column("climate_mitigation_marker", sa.Integer(), nullable=True),
        sa.Column("climate_mitigation_justification", sa.Text(), nullable=True),
        sa.Column("primary_priority_confirmed", sa.Boolean(), nullable=True),
        sa.Column("strengths", sa.Text(), nullable=True),
        sa.Column("weaknesses", sa.Text(), nullable=True),
        sa.Column("recommendation", sa.String(length=30), nullable=True),
        sa.Column("section_scores", JSON, nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_evaluations_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("assignment_id", name=op.f("uq_evaluations_assignment_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("screening_checklist", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("evaluation_period_days", sa.Integer(), nullable=False, server_default="14")
        )
        batch_op.create_check_constraint(
            op.f("ck_calls_evaluation_period_positive"), "evaluation_period_days >= 1"
        )

    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("full_application_due_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("concept_note_amount", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FINAL_PG_FUNCTION)
        op.execute(FINAL_PG_TRIGGER)
    else:
        for verb in ("update", "delete"):
            op.execute(FINAL_SQLITE.format(op=verb, OP=verb.upper()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER evaluations_final ON evaluations")
        op.execute("DROP FUNCTION evaluations_final()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER evaluations_final_{verb}")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_column("concept_note_amount")
        batch_op.drop_column("full_application_due_at")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_calls_evaluation_period_positive"), type_="check")
        batch_op.drop_column("evaluation_period_days")
        batch_op.drop_column("screening_checklist")

    op.drop_table("evaluations")
    op.drop_table("screenings")
    op.drop_table("evaluation_results")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_status"))
        batch_op.drop_index("ix_assignments_evaluator_id_status")
        batch_op.drop_index("ix_assignments_call_id")

    op.drop_table("assignments")
    op.drop_table("evaluator_profiles")
