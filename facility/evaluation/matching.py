"""Who evaluates what: conflict rules and a balanced, expertise-aware assignment. Pure.

Rules: an evaluator is never assigned to an organisation they are affiliated with, nor to an
applicant from a country they are a national or resident of (a fund manager may override
either, with a recorded justification, when assigning by hand).

Balance and expertise: see :func:`assign`, a min-cost flow that fills every place the rules
allow, keeps loads within one of each other unless the rules leave no choice, and among the
balanced fills prefers evaluators whose expertise covers the proposal's primary priority.
"""

from __future__ import annotations

import heapq
import math
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


class _FlowGraph:
    """A small min-cost flow network, solved primal-dual: Dijkstra (with potentials; every
    cost is non-negative) finds the cheapest path length, then a blocking flow pushes as many
    units as fit along paths of exactly that length before the next Dijkstra. Each round
    carries many units, which keeps large calls fast."""

    def __init__(self, size: int) -> None:
        # Per node: edges as [to, capacity, cost, index of the reverse edge].
        self.edges: list[list[list[int]]] = [[] for _ in range(size)]

    def add(self, frm: int, to: int, capacity: int, cost: int) -> tuple[int, int]:
        self.edges[frm].append([to, capacity, cost, len(self.edges[to])])
        self.edges[to].append([frm, 0, -cost, len(self.edges[frm]) - 1])
        return frm, len(self.edges[frm]) - 1

    def _distances(self, source: int, potential: list[int]) -> list[float]:
        dist: list[float] = [math.inf] * len(self.edges)
        dist[source] = 0
        heap = [(0.0, source)]
        while heap:
            d, node = heapq.heappop(heap)
            if d > dist[node]:
                continue
            for to, capacity, cost, _ in self.edges[node]:
                step = d + cost + potential[node] - potential[to]
                if capacity > 0 and step < dist[to]:
                    dist[to] = step
                    heapq.heappush(heap, (step, to))
        return dist

    def _push(self, node: int, sink: int, potential: list[int], cursor: list[int],
              seen: list[bool]) -> bool:  # fmt: skip
        """One unit along a zero-reduced-cost path (iterative DFS, Dinic-style cursors)."""
        path: list[tuple[int, int]] = []
        while True:
            if node == sink:
                for frm, index in path:
                    edge = self.edges[frm][index]
                    edge[1] -= 1
                    self.edges[edge[0]][edge[3]][1] += 1
                return True
            seen[node] = True
            edges = self.edges[node]
            while cursor[node] < len(edges):
                to, capacity, cost, _ = edges[cursor[node]]
                if capacity > 0 and not seen[to] and cost + potential[node] == potential[to]:
                    break
                cursor[node] += 1
            if cursor[node] < len(edges):
                path.append((node, cursor[node]))
                node = edges[cursor[node]][0]
                continue
            if not path:
                return False
            node, _ = path.pop()  # dead end: step back and try the next edge
            cursor[node] += 1

    def flow(self, source: int, sink: int) -> None:
        size = len(self.edges)
        potential = [0] * size
        while True:
            dist = self._distances(source, potential)
            if dist[sink] == math.inf:
                return
            for node in range(size):
                if dist[node] < math.inf:
                    potential[node] += int(dist[node])
            cursor = [0] * size
            while True:
                seen = [False] * size
                if not self._push(source, sink, potential, cursor, seen):
                    break

    def used(self, handle: tuple[int, int]) -> bool:
        frm, index = handle
        return self.edges[frm][index][1] == 0


def assign(
    evaluators: Sequence[Evaluator],
    loads: dict[uuid.UUID, int],
    slots: Iterable[Slot],
) -> list[tuple[Slot, Evaluator]]:
    """Fill as many slots as the rules allow, as evenly as the rules allow, with as many
    experts as that leaves room for. ``slots`` may hold several places of one proposal; a
    proposal never gets the same evaluator twice.

    A min-cost maximum flow: proposal → evaluator edges cost 1 without expertise (0 with);
    each evaluator's n-th extra place costs more than all expertise together, times the load
    it would reach, so the cost is convex in the load and the cheapest fill is the most
    balanced one, and among those the one with most experts."""
    wanted: dict[uuid.UUID, list[Slot]] = {}
    for slot in slots:
        wanted.setdefault(slot.proposal_id, []).append(slot)
    if not wanted or not evaluators:
        return []
    ordered = sorted(evaluators, key=lambda e: e.id)
    proposals = list(wanted)
    source, sink = 0, 1
    p_node = {pid: 2 + i for i, pid in enumerate(proposals)}
    e_node = {e.id: 2 + len(proposals) + i for i, e in enumerate(ordered)}
    graph = _FlowGraph(2 + len(proposals) + len(ordered))
    weight = sum(len(v) for v in wanted.values()) + 1  # one load step outweighs all expertise
    pairs: list[tuple[tuple[int, int], uuid.UUID, Evaluator]] = []
    reachable: dict[uuid.UUID, int] = {e.id: 0 for e in ordered}
    for pid in proposals:
        first = wanted[pid][0]
        graph.add(source, p_node[pid], len(wanted[pid]), 0)
        for e in ordered:
            if e.id in first.taken_by or conflicts(e, first.applicant):
                continue
            cost = 0 if first.applicant.primary_priority in e.expertise else 1
            pairs.append((graph.add(p_node[pid], e_node[e.id], 1, cost), pid, e))
            reachable[e.id] += 1
    for e in ordered:
        base = loads.get(e.id, 0)
        for extra in range(reachable[e.id]):
            graph.add(e_node[e.id], sink, 1, weight * (base + extra + 1))
    graph.flow(source, sink)
    chosen: list[tuple[Slot, Evaluator]] = []
    taken_slots = {pid: list(v) for pid, v in wanted.items()}
    for handle, pid, e in pairs:
        if graph.used(handle):
            chosen.append((taken_slots[pid].pop(), e))
    return chosen


def pick_one(
    evaluators: Sequence[Evaluator], loads: dict[uuid.UUID, int], slot: Slot
) -> Evaluator | None:
    """One evaluator for one slot (a replacement or an arbitrator)."""
    made = assign(evaluators, loads, [slot])
    return made[0][1] if made else None
