"""The engine: one shared ``transitions`` machine per workflow, used as the state graph.

No row is ever added to a machine as a model (``add_model`` per row leaks memory and lets
machines overwrite state); the engine answers "from this state, may this role fire this
trigger, and do the guards agree?" and the domain layer persists the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from transitions import Machine

from workflows.definition import Transition, Workflow, validate
from workflows.guards import Guard, GuardContext, Refusal


class TransitionError(Exception):
    pass


class UnknownTrigger(TransitionError):
    def __init__(self, workflow: str, trigger: str) -> None:
        super().__init__(f"{workflow} has no trigger {trigger!r}")
        self.trigger = trigger


class NotAvailable(TransitionError):
    """The trigger exists but not from the current state."""

    def __init__(self, trigger: str, state: str) -> None:
        super().__init__(f"{trigger!r} is not possible from state {state!r}")
        self.trigger = trigger
        self.state = state


class RoleNotPermitted(TransitionError):
    def __init__(self, trigger: str, role: str) -> None:
        super().__init__(f"role {role!r} may not fire {trigger!r}")
        self.trigger = trigger
        self.role = role


class Refused(TransitionError):
    """Guards said no; ``refusals`` lists every reason."""

    def __init__(self, trigger: str, refusals: list[Refusal]) -> None:
        super().__init__(f"{trigger!r} refused: " + "; ".join(r.detail for r in refusals))
        self.trigger = trigger
        self.refusals = refusals


@dataclass(frozen=True)
class Decision:
    transition: Transition
    source: str

    @property
    def dest(self) -> str:
        return self.transition.dest


class WorkflowEngine:
    def __init__(self, workflow: Workflow, guards: Mapping[str, Guard]) -> None:
        validate(workflow, guards)
        self.workflow = workflow
        self._guards = guards
        self._by_key = {(t.trigger, src): t for t in workflow.transitions for src in t.sources}
        self._roles: dict[str, frozenset[str]] = {}
        for t in workflow.transitions:
            self._roles[t.trigger] = self._roles.get(t.trigger, frozenset()) | t.roles
        self.machine = Machine(
            model=None,
            states=list(workflow.state_names),
            initial=workflow.initial,
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest}
                for t in workflow.transitions
            ],
            auto_transitions=False,
            send_event=True,
        )

    @property
    def name(self) -> str:
        return self.workflow.name

    def transition(self, state: str, trigger: str) -> Transition:
        if trigger not in self.machine.events:
            raise UnknownTrigger(self.name, trigger)
        if not self.machine.get_transitions(trigger=trigger, source=state):
            raise NotAvailable(trigger, state)
        return self._by_key[(trigger, state)]

    def available(self, state: str, role: str) -> list[str]:
        """Triggers this role may fire from ``state`` (guards are judged when fired)."""
        return [
            trigger
            for trigger in self.machine.get_triggers(state)
            if role in self._by_key[(trigger, state)].roles
        ]

    def decide(self, state: str, trigger: str, ctx: GuardContext) -> Decision:
        """Check role, availability and every guard; raise with all reasons if refused.
        A role that may never fire the trigger is refused whatever the state (403 before 409)."""
        if trigger in self._roles and ctx.role not in self._roles[trigger]:
            raise RoleNotPermitted(trigger, ctx.role)
        chosen = self.transition(state, trigger)
        if ctx.role not in chosen.roles:
            raise RoleNotPermitted(trigger, ctx.role)
        refusals = [r for name in chosen.guards for r in self._guards[name](ctx)]
        if refusals:
            raise Refused(trigger, refusals)
        return Decision(chosen, state)

    def is_editable(self, state: str) -> bool:
        return self.workflow.state(state).editable
