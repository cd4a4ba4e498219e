"""Loads every domain module (so effects and subscribers register) and checks the wiring."""

from __future__ import annotations

import importlib

from facility import lifecycle

DOMAIN_MODULES = (
    "facility.models",
    "facility.calls.service",
    "facility.proposals.service",
    "facility.screening.service",
    "facility.evaluation.assignments",
    "facility.evaluation.service",
    "facility.grants.service",
    "facility.awards.service",
    "facility.notifications.outbox",
)


def check_domain_wiring() -> None:
    for name in DOMAIN_MODULES:
        importlib.import_module(name)
    missing = lifecycle.missing_effects()
    if missing:
        raise RuntimeError(f"workflow effects without an implementation: {', '.join(missing)}")
    from facility.notifications.scheduler import missing_timer_wiring

    unserved = missing_timer_wiring()
    if unserved:
        raise RuntimeError(f"workflow timers the scheduler cannot serve: {', '.join(unserved)}")
