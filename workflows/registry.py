"""Every workflow of the facility, each with its one shared engine."""

from __future__ import annotations

from workflows import assignment, call, grant, proposal
from workflows.engine import WorkflowEngine

ENGINES: dict[str, WorkflowEngine] = {
    engine.name: engine
    for engine in (
        WorkflowEngine(call.CALL, call.guards),
        WorkflowEngine(proposal.PROPOSAL, proposal.guards),
        WorkflowEngine(assignment.ASSIGNMENT, assignment.guards),
        WorkflowEngine(grant.GRANT, grant.guards),
        WorkflowEngine(grant.REPORT, grant.guards),
        WorkflowEngine(grant.PAYMENT, grant.guards),
    )
}


def engine_for(workflow_name: str) -> WorkflowEngine:
    return ENGINES[workflow_name]
