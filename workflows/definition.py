"""The vocabulary workflow definitions are written in, and the checks every definition passes.

A workflow is data: states (with timers), transitions (trigger, sources, destination, the
roles that may fire it, named pure guards, named effects the domain layer carries out, and
the event it emits). Nothing here touches a database or HTTP.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Roles as plain strings: workflows/ does not import the domain layer.
APPLICANT = "applicant"
EVALUATOR = "evaluator"
FUND_MANAGER = "fund_manager"
ADMIN = "admin"
SYSTEM = "system"  # the facility itself: timers, consolidation, automatic steps
KNOWN_ROLES = frozenset({APPLICANT, EVALUATOR, FUND_MANAGER, ADMIN, SYSTEM})


@dataclass(frozen=True)
class Timer:
    """After a while in a state, fire ``trigger`` if the subject is still there.

    The wait is ``days`` or, when ``days_from`` names a fact of the subject (for example a
    call's acceptance period), that many days; counted in calendar or working days.
    """

    trigger: str
    days: int | None = None
    days_from: str | None = None
    working_days: bool = False
    description: str = ""


@dataclass(frozen=True)
class State:
    name: str
    description: str
    terminal: bool = False
    # The owner (the applicant organisation) may edit the subject's content in this state.
    editable: bool = False
    timers: tuple[Timer, ...] = ()


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    event: str
    description: str
    guards: tuple[str, ...] = ()
    effects: tuple[str, ...] = ()
    # Payload fields shown to the applicant in the history (e.g. the reasons for a refusal).
    applicant_visible: tuple[str, ...] = ()


def transition(
    trigger: str,
    source: str | Iterable[str],
    dest: str,
    *,
    roles: Iterable[str],
    event: str,
    description: str,
    guards: Iterable[str] = (),
    effects: Iterable[str] = (),
    applicant_visible: Iterable[str] = (),
) -> Transition:
    """Spelling helper so a definition reads like the process it describes."""
    sources = (source,) if isinstance(source, str) else tuple(source)
    return Transition(
        trigger=trigger,
        sources=sources,
        dest=dest,
        roles=frozenset(roles),
        event=event,
        description=description,
        guards=tuple(guards),
        effects=tuple(effects),
        applicant_visible=tuple(applicant_visible),
    )


@dataclass(frozen=True)
class Workflow:
    name: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    description: str = ""
    _states: dict[str, State] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_states", {s.name: s for s in self.states})

    def state(self, name: str) -> State:
        return self._states[name]

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(t.trigger for t in self.transitions)


class DefinitionError(ValueError):
    def __init__(self, workflow: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"workflow {workflow!r} is invalid:\n- " + "\n- ".join(problems))


def validate(workflow: Workflow, guards: Mapping[str, object]) -> None:
    """Raise DefinitionError listing every defect of a definition at once."""
    problems: list[str] = []
    names = [s.name for s in workflow.states]
    known = set(names)
    if len(known) != len(names):
        problems.append("state names are not unique")
    if workflow.initial not in known:
        problems.append(f"initial state {workflow.initial!r} is not a state")

    seen: set[tuple[str, str]] = set()
    exits: dict[str, set[str]] = {name: set() for name in known}
    for t in workflow.transitions:
        where = f"transition {t.trigger!r}"
        if not t.sources:
            problems.append(f"{where} has no source state")
        for src in t.sources:
            if src not in known:
                problems.append(f"{where} starts from unknown state {src!r}")
                continue
            if (t.trigger, src) in seen:
                problems.append(f"{where} is declared twice from {src!r}")
            seen.add((t.trigger, src))
            exits[src].add(t.dest)
        if t.dest not in known:
            problems.append(f"{where} leads to unknown state {t.dest!r}")
        if not t.roles:
            problems.append(f"{where} names no role allowed to fire it")
        for role in sorted(t.roles - KNOWN_ROLES):
            problems.append(f"{where} names unknown role {role!r}")
        for guard in t.guards:
            if guard not in guards:
                problems.append(f"{where} uses undefined guard {guard!r}")
        if not t.event:
            problems.append(f"{where} emits no event")

    for state in workflow.states:
        leaving = {d for d in exits.get(state.name, set()) if d != state.name}
        if state.terminal and exits.get(state.name):
            problems.append(f"terminal state {state.name!r} has transitions out of it")
        if not state.terminal and not leaving:
            problems.append(f"state {state.name!r} has no way out and is not marked terminal")
        for timer in state.timers:
            if (timer.days is None) == (timer.days_from is None):
                problems.append(
                    f"timer {timer.trigger!r} in {state.name!r} needs days or days_from"
                )
            if timer.days is not None and timer.days < 1:
                problems.append(f"timer {timer.trigger!r} in {state.name!r} waits less than a day")
            fired = [t for t in workflow.transitions if t.trigger == timer.trigger]
            if not fired:
                problems.append(f"timer in {state.name!r} fires unknown trigger {timer.trigger!r}")
            elif not any(state.name in t.sources and t.dest != state.name for t in fired):
                problems.append(
                    f"timer {timer.trigger!r} in {state.name!r} does not leave that state"
                )
            elif not any(SYSTEM in t.roles for t in fired if state.name in t.sources):
                problems.append(f"timer {timer.trigger!r} fires a transition the system may not")

    if workflow.initial in known:
        reached = {workflow.initial}
        queue = deque([workflow.initial])
        while queue:
            for nxt in exits.get(queue.popleft(), set()):
                if nxt in known and nxt not in reached:
                    reached.add(nxt)
                    queue.append(nxt)
        for name in names:
            if name not in reached:
                problems.append(f"state {name!r} cannot be reached from {workflow.initial!r}")

    if problems:
        raise DefinitionError(workflow.name, problems)
