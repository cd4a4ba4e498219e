"""Who evaluates what: conflict rules and a balanced, expertise-aware assignment. Pure.

Rules: an evaluator is never assigned to an organisation they are affiliated with, nor to an
applicant from a country they are a national or resident of (a fund manager may override
either, with a recorded justification, when assigning by hand).

Balance: slots are handed out in rounds. In each round only the evaluators with the lowest
load take one slot each, so loads never differ by more than one unless the conflict rules
leave no choice. Evaluators with a matching slot take their turn first; each takes, in order
of preference: a slot whose
proposal's primary priority is in their expertise, then the slot with the fewest eligible
evaluators (the hardest to fill), then the earliest proposal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Evaluator:
    id: uuid.UUID
    expertise: frozenset[str]
    countries: frozenset[str]
    # (country, registration number) of organisations they work or worked for.
    affiliations: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Applicant:
    country: str
    registration_number: str
    primary_priority: str | None


@dataclass(frozen=True)
class Slot:
    proposal_id: uuid.UUID
    applicant: Applicant
    # Evaluators who may not take this slot (already assigned, recused, ...).
    taken_by: frozenset[uuid.UUID]


def normalise_registration(country: str, number: str) -> tuple[str, str]:
    return country.strip().upper(), "".join(number.split()).upper()


def conflicts(evaluator: Evaluator, applicant: Applicant) -> list[str]:
    reasons = []
    org = normalise_registration(applicant.country, applicant.registration_number)
    if org in evaluator.affiliations:
        reasons.append("the evaluator is affiliated with the applicant organisation")
    if applicant.country in evaluator.countries:
        reasons.append(f"the evaluator shares the applicant's country ({applicant.country})")
    return reasons


def assign(
    evaluators: Sequence[Evaluator],
    loads: dict[uuid.UUID, int],
    slots: Iterable[Slot],
) -> list[tuple[Slot, Evaluator]]:
    """Fill as many slots as the rules allow. ``slots`` may hold several slots for one
    proposal; a proposal never gets the same evaluator twice."""
    open_slots = list(slots)
    load = {e.id: loads.get(e.id, 0) for e in evaluators}
    taken = {s.proposal_id: set(s.taken_by) for s in open_slots}
    chosen: list[tuple[Slot, Evaluator]] = []

    def can_take(e: Evaluator, s: Slot) -> bool:
        return e.id not in taken[s.proposal_id] and not conflicts(e, s.applicant)

    while open_slots:
        able = [e for e in evaluators if any(can_take(e, s) for s in open_slots)]
        if not able:
            break
        level = min(load[e.id] for e in able)

        def has_match(e: Evaluator) -> bool:
            return any(
                s.applicant.primary_priority in e.expertise and can_take(e, s) for s in open_slots
            )

        # Experts for an open slot take their turn first (decisive when slots are few).
        turn = sorted(
            (e for e in able if load[e.id] == level), key=lambda e: (not has_match(e), e.id)
        )
        for evaluator in turn:
            candidates = [s for s in open_slots if can_take(evaluator, s)]
            if not candidates:
                continue

            def preference(s: Slot, e: Evaluator = evaluator) -> tuple[int, int, int]:
                matches = s.applicant.primary_priority in e.expertise
                scarcity = sum(1 for other in evaluators if can_take(other, s))
                return (0 if matches else 1, scarcity, open_slots.index(s))

            slot = min(candidates, key=preference)
            open_slots.remove(slot)
            taken[slot.proposal_id].add(evaluator.id)
            load[evaluator.id] += 1
            chosen.append((slot, evaluator))
    return chosen


def pick_one(
    evaluators: Sequence[Evaluator], loads: dict[uuid.UUID, int], slot: Slot
) -> Evaluator | None:
    """One evaluator for one slot (a replacement or an arbitrator)."""
    made = assign(evaluators, loads, [slot])
    return made[0][1] if made else None
