"""Workflow definitions are valid data, and the engine judges transitions correctly.

These tests need no database: workflows/ is pure."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from facility import lifecycle
from facility.domain import check_domain_wiring
from workflows.definition import (
    KNOWN_ROLES,
    DefinitionError,
    State,
    Timer,
    Workflow,
    transition,
    validate,
)
from workflows.engine import NotAvailable, Refused, RoleNotPermitted, UnknownTrigger
from workflows.guards import GuardContext, Refusal
from workflows.registry import ENGINES

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_definition_is_sound(name: str) -> None:
    wf = ENGINES[name].workflow
    states = set(wf.state_names)
    # Every state reachable from the initial one.
    reached, frontier = {wf.initial}, [wf.initial]
    while frontier:
        current = frontier.pop()
        for t in wf.transitions:
            if current in t.sources and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    assert reached == states
    for t in wf.transitions:
        assert t.dest in states and set(t.sources) <= states  # every target exists
        assert t.roles and t.roles <= KNOWN_ROLES  # every transition names roles
        assert t.event.startswith(f"{name}.")
        assert t.description
    for s in wf.states:
        exits = [t for t in wf.transitions if s.name in t.sources]
        if s.terminal:
            assert not exits, f"terminal {s.name} has exits"
        else:
            assert any(t.dest != s.name for t in exits), f"{s.name} is a dead end"


def test_engines_never_hold_models() -> None:
    for engine in ENGINES.values():
        assert engine.machine.models == []


def test_every_effect_has_an_implementation() -> None:
    check_domain_wiring()
    assert lifecycle.missing_effects() == []


def _wf(**overrides: object) -> Workflow:
    base: dict[str, object] = {
        "name": "t",
        "initial": "a",
        "states": (State("a", "start"), State("b", "end", terminal=True)),
        "transitions": (transition("go", "a", "b", roles=["applicant"], event="t.go",
                                   description="go"),),
    }  # fmt: skip
    base.update(overrides)
    return Workflow(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        (_wf(initial="x"), "initial state 'x' is not a state"),
        (
            _wf(transitions=(transition("go", "a", "nowhere", roles=["applicant"], event="t.go",
                                        description="go"),)),
            "leads to unknown state 'nowhere'",
        ),
        (
            _wf(transitions=(transition("go", "a", "b", roles=[], event="t.go",
                                        description="go"),)),
            "names no role",
        ),
        (
            _wf(transitions=(transition("go", "a", "b", roles=["janitor"], event="t.go",
                                        description="go"),)),
            "unknown role 'janitor'",
        ),
        (
            _wf(transitions=(transition("go", "a", "b", roles=["applicant"], event="t.go",
                                        description="go", guards=["nope"]),)),
            "undefined guard 'nope'",
        ),
        (
            _wf(states=(State("a", "start"), State("b", "end", terminal=True),
                        State("c", "orphan", terminal=True))),
            "state 'c' cannot be reached",
        ),
        (
            _wf(states=(State("a", "start"), State("b", "end"))),
            "state 'b' has no way out and is not marked terminal",
        ),
        (
            _wf(states=(State("a", "start", terminal=True), State("b", "end", terminal=True))),
            "terminal state 'a' has transitions out of it",
        ),
        (
            _wf(states=(State("a", "start", timers=(Timer("missing", days=3),)),
                        State("b", "end", terminal=True))),
            "fires unknown trigger 'missing'",
        ),
        (
            _wf(states=(State("a", "start", timers=(Timer("go", days=3),)),
                        State("b", "end", terminal=True))),
            "fires a transition the system may not",
        ),
        (
            _wf(states=(State("a", "start", timers=(Timer("go"),)),
                        State("b", "end", terminal=True))),
            "needs days or days_from",
        ),
    ],
)  # fmt: skip
def test_validation_finds_each_defect(workflow: Workflow, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        validate(workflow, guards={})
    assert any(message in p for p in err.value.problems), err.value.problems


def test_timer_must_leave_its_state() -> None:
    wf = _wf(
        states=(
            State("a", "start", timers=(Timer("stay", days=1),)),
            State("b", "end", terminal=True),
        ),
        transitions=(
            transition("go", "a", "b", roles=["applicant"], event="t.go", description="go"),
            transition("stay", "a", "a", roles=["system"], event="t.stay", description="loop"),
        ),
    )
    with pytest.raises(DefinitionError, match="does not leave that state"):
        validate(wf, guards={})


def _ctx(role: str, **facts: object) -> GuardContext:
    return GuardContext(subject={}, role=role, now=NOW, facts=facts)


def test_engine_answers_role_state_and_guards() -> None:
    proposal = ENGINES["proposal"]
    assert proposal.available("draft", "applicant") == ["submit", "withdraw"]
    assert proposal.available("draft", "fund_manager") == []
    assert "start_screening" in proposal.available("submitted", "fund_manager")
    with pytest.raises(UnknownTrigger):
        proposal.decide("draft", "teleport", _ctx("applicant"))
    with pytest.raises(NotAvailable):
        proposal.decide("withdrawn", "submit", _ctx("applicant"))
    with pytest.raises(RoleNotPermitted):
        proposal.decide("draft", "withdraw", _ctx("fund_manager"))
    decision = proposal.decide("draft", "withdraw", _ctx("applicant"))
    assert decision.dest == "withdrawn"


def test_guards_report_every_refusal_at_once() -> None:
    proposal = ENGINES["proposal"]
    call = {
        "status": "published", "opens_at": NOW, "closes_at": NOW, "currency": "EUR",
        "min_grant": 10, "max_grant": 20, "min_duration_months": 6, "max_duration_months": 18,
        "min_cofinancing_pct": 0, "eligible_org_types": [22], "eligible_countries": ["KG"],
        "priorities": ["integration"], "required_attachment_kinds": ["budget"],
        "concept_note_attachment_kinds": [],
    }  # fmt: skip
    subject = {"stage": "full_application", "requested_amount": 50, "duration_months": 30,
               "country_shares": [{"country": "FR", "share": "100"}],
               "primary_priority": "trafficking"}  # fmt: skip
    ctx = GuardContext(
        subject=subject, role="applicant", now=NOW.replace(second=1),
        facts={"call": call, "organisation": {"iati_type": 10, "country": "KG"},
               "attachment_kinds": set()},
    )  # fmt: skip
    with pytest.raises(Refused) as err:
        proposal.decide("draft", "submit", ctx)
    codes = {r.code for r in err.value.refusals}
    assert {
        "deadline_passed", "required", "amount_out_of_range", "duration_out_of_range",
        "organisation_type_not_eligible", "country_not_eligible", "priority_out_of_scope",
        "attachment_missing",
    } <= codes  # fmt: skip
    assert all(isinstance(r, Refusal) for r in err.value.refusals)


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_imports_go_one_way() -> None:
    """api → facility → workflows; never back."""
    assert not _imports("workflows") & {"facility", "api", "sqlalchemy", "fastapi"}
    assert "api" not in _imports("facility")


def test_workflow_docs_are_current() -> None:
    from workflows.describe import markdown

    expected = markdown([e.workflow for e in ENGINES.values()])
    assert (ROOT / "docs" / "workflows.md").read_text() == expected, (
        "run `facility workflows describe > docs/workflows.md`"
    )
