"""CPU-bound parts of the domain, timed in-process: evaluator matching, ranking, schedules."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from facility.evaluation import matching, ranking
from facility.grants import schedule

PRIORITIES = ["migration_mobility", "integration", "migration_development",
              "irregular_migration", "trafficking", "international_protection"]  # fmt: skip
COUNTRIES = ["AF", "BD", "IR", "IQ", "PK", "KZ", "KG", "TJ", "TM", "UZ"]


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def matching_case(proposals: int, evaluators: int, places: int, seed: int = 1) -> Callable[[], Any]:
    rng = random.Random(seed)
    pool = [
        matching.Evaluator(
            uuid.UUID(int=i + 1),
            frozenset(rng.sample(PRIORITIES, 2)),
            frozenset(rng.sample(COUNTRIES, 1)),
            frozenset(),
        )
        for i in range(evaluators)
    ]
    slots = []
    for n in range(proposals):
        applicant = matching.Applicant(rng.choice(COUNTRIES), f"R{n}", rng.choice(PRIORITIES))
        slots += [matching.Slot(uuid.UUID(int=10_000 + n), applicant, frozenset())] * places
    return lambda: matching.assign(pool, {}, slots)


def ranking_case(rows: int, seed: int = 2) -> Callable[[], Any]:
    rng = random.Random(seed)
    call = SimpleNamespace(stages="two_stage", budget_envelope=Decimal("1500000.00"))
    inputs = [
        (
            SimpleNamespace(id=uuid.UUID(int=i + 1)),
            SimpleNamespace(
                total=Decimal(rng.randint(3000, 5000)) / 100,
                section_scores={"relevance": str(rng.randint(10, 30))},
            ),
            SimpleNamespace(
                submitted_at=datetime(2026, 3, 1, tzinfo=UTC),
                content={"requested_amount": "200000.00"},
            ),
        )
        for i in range(rows)
    ]
    return lambda: ranking.rank(call, "concept_note", inputs)  # type: ignore[arg-type]


def run() -> list[tuple[str, float]]:
    results = []
    for p, e, k in ((30, 10, 2), (100, 20, 3), (300, 60, 3)):
        results.append(
            (
                f"assign evaluators: {p} proposals x {k} places, {e} evaluators",
                timed(matching_case(p, e, k), repeat=3),
            )
        )
    results.append(("rank 1,000 evaluated proposals", timed(ranking_case(1000))))
    results.append(
        ("payment + reporting schedule of a 36-month grant",
         timed(lambda: (schedule.payment_schedule(Decimal("233333.33"), 36, date(2026, 7, 1)),
                        schedule.reporting_schedule(date(2026, 7, 1), 36)), repeat=50))
    )  # fmt: skip
    return results
