"""Who may call what: one row per route of the app (per kind of object it acts on), one
column per kind of caller.

Every route in ``app.routes`` must have at least one row (``test_every_route_is_in_the_matrix``
fails otherwise, so a new route cannot ship without deciding who may use it). For each row
the objects the route needs are built afresh, then the request is sent as each caller.
Callers the row refuses go first, and the whole database is compared before and after them:
a refused request must not have written anything. Callers it allows go last. Rows with ids
are then replayed with unknown ids: what was allowed or hidden must be a 404 there too, and
a hidden object must answer exactly like a missing one.

The rules the table encodes:

* anonymous callers get 401 on every protected route (public: the health check, the docs,
  the problem-type pages, registration, sign-in, and reading non-draft calls);
* a role that may not use a function at all gets 403, wherever the object is;
* another organisation's proposal, and its attachments, history, submissions and
  transitions, are 404, exactly as if it did not exist (never 403); so is a proposal an
  evaluator is not assigned to, and another evaluator's assignment;
* draft calls are visible to fund managers and admins only (404 for everyone else);
* calls are created, edited and moved through their workflow by fund managers only; they
  also screen proposals, assign evaluators, and read evaluations, results and rankings;
* proposals are created, edited, submitted and withdrawn by their applicants; fund managers
  read all proposals, history and attachments but may not edit them or fire applicant
  triggers; evaluators read the proposals they are assigned to (once declared), never
  their history; admins get 403 on proposal routes;
* evaluators keep their own profile, declare, and score their own assignments;
* grantees (the applicant organisation) read their own grants, reports and payments, and
  write, submit and attach files to their reports; fund managers award, sign contracts,
  approve reports and record payments; nobody else sees grants at all;
* ``/api/v1/users`` and the outbox are for admins only; the notification catalogue for
  fund managers and admins.

The rows of a section share one app, its database and the callers' accounts; each row has
objects of its own. (A fresh app costs a noticeable fraction of a second, most of it spent
by FastAPI preparing routes on their first use.)
"""

# The matrix is a table, one route per line: it is wider than the usual 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from facility.calls.grids import prag_full_application_grid
from facility.db.engine import Database
from facility.models import Base
from facility.notifications.models import DEAD, OutboxMessage
from facility.settings import Settings
from tests.factories import (
    PASSWORD,
    PDF,
    Account,
    World,
    call_body,
    evaluator_with_profile,
    force_evaluated,
    full_evaluation,
    pass_screening,
    proposal_body,
)

PROBLEM_JSON = "application/problem+json"

ANONYMOUS = "anonymous"
APPLICANT = "applicant"  # a user of the organisation that owns the proposal
OTHER = "other_applicant"  # a user of another applicant organisation
EVALUATOR = "evaluator"  # the evaluator assigned to the proposal in evaluation
OTHER_EVALUATOR = "other_evaluator"  # an evaluator with no assignment to it
FUND_MANAGER = "fund_manager"
ADMIN = "admin"
CALLERS = (ANONYMOUS, APPLICANT, OTHER, EVALUATOR, OTHER_EVALUATOR, FUND_MANAGER, ADMIN)

# What a row's path parameters point at.
NOTHING = "-"
PUBLISHED_CALL = "published call"
DRAFT_CALL = "draft call"
TWO_STAGE_CALL = "published two-stage call"
DRAFT = "draft proposal"  # the applicant's complete draft, with its budget attached
SUBMITTED = "submitted proposal"
IN_EVALUATION = "proposal in evaluation"  # screened; the evaluator assigned and declared
DRAFT_FILE = "draft's attachment"
EVALUATED_FILE = "attachment of the proposal in evaluation"
ASSIGNMENT = "assignment"  # the evaluator's, declared (active)
UNDECLARED = "undeclared assignment"  # the evaluator's, not declared yet
SCORED = "scored assignment"  # the evaluator's, declared, with a complete draft evaluation
EVALUATED = "evaluated proposal"
GRANT = "grant"  # awarded to the applicant's proposal, contract not signed yet
SIGNED_GRANT = "signed grant"  # its reports and payments are scheduled
REPORT = "report"  # the signed grant's first report, not filled in
FILLED_REPORT = "filled report"  # complete, ready to submit
SUBMITTED_REPORT = "submitted report"
REPORT_FILE = "report's attachment"
PAYMENT = "payment"  # the signed grant's first payment (due)
DEAD_MESSAGE = "dead outbox message"
USER = "user"  # an evaluator account other than the callers
PROBLEM_TYPE = "problem type"

GRID = prag_full_application_grid()


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's path template, exactly as in app.routes
    target: str
    expect: tuple[int, int, int, int, int, int, int]  # one status per caller, CALLERS order
    trigger: str | None = None  # for transition routes: the trigger fired

    def expected(self) -> dict[str, int]:
        return dict(zip(CALLERS, self.expect, strict=True))

    @property
    def id(self) -> str:
        what = [t for t in (self.target if self.target != NOTHING else None, self.trigger) if t]
        return f"{self.method} {self.path}" + (f" [{', '.join(what)}]" if what else "")


A, U, F = 401, 403, 404  # shorthands: anonymous refused, role refused, not found (or hidden)

# fmt: off
SECTIONS: dict[str, list[Row]] = {
    "public and identity": [
        #   method    path                                                   target           anon appl othr eval oevl  fm  admin
        Row("GET",    "/health",                                             NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/openapi.json",                                       NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/docs",                                               NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/docs/oauth2-redirect",                               NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/redoc",                                              NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/problems/{slug}",                                    PROBLEM_TYPE,   (200, 200, 200, 200, 200, 200, 200)),
        Row("POST",   "/api/v1/auth/register",                               NOTHING,        (201, 201, 201, 201, 201, 201, 201)),
        Row("POST",   "/api/v1/auth/token",                                  NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/api/v1/me",                                          NOTHING,        (A,   200, 200, 200, 200, 200, 200)),
        Row("PATCH",  "/api/v1/me",                                          NOTHING,        (A,   200, 200, 200, 200, 200, 200)),
        Row("POST",   "/api/v1/users",                                       NOTHING,        (A,   U,   U,   U,   U,   U,   201)),
        Row("GET",    "/api/v1/users",                                       NOTHING,        (A,   U,   U,   U,   U,   U,   200)),
        Row("PATCH",  "/api/v1/users/{user_id}",                             USER,           (A,   U,   U,   U,   U,   U,   200)),
    ],
    "calls": [
        Row("GET",    "/api/v1/calls",                                       NOTHING,        (200, 200, 200, 200, 200, 200, 200)),
        Row("POST",   "/api/v1/calls",                                       NOTHING,        (A,   U,   U,   U,   U,   201, U)),
        Row("GET",    "/api/v1/calls/{call_id}",                             PUBLISHED_CALL, (200, 200, 200, 200, 200, 200, 200)),
        Row("GET",    "/api/v1/calls/{call_id}",                             DRAFT_CALL,     (F,   F,   F,   F,   F,   200, 200)),
        Row("PATCH",  "/api/v1/calls/{call_id}",                             DRAFT_CALL,     (A,   U,   U,   U,   U,   200, U)),
        Row("POST",   "/api/v1/calls/{call_id}/transitions",                 DRAFT_CALL,     (A,   U,   U,   U,   U,   200, U), "publish"),
        Row("POST",   "/api/v1/calls/{call_id}/transitions",                 PUBLISHED_CALL, (A,   U,   U,   U,   U,   200, U), "close"),
        Row("GET",    "/api/v1/calls/{call_id}/history",                     DRAFT_CALL,     (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/calls/{call_id}/history",                     PUBLISHED_CALL, (A,   U,   U,   U,   U,   200, U)),
        Row("POST",   "/api/v1/calls/{call_id}/assignments/auto",            PUBLISHED_CALL, (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/calls/{call_id}/ranking",                     PUBLISHED_CALL, (A,   U,   U,   U,   U,   200, U)),
        Row("POST",   "/api/v1/calls/{call_id}/shortlist",                   TWO_STAGE_CALL, (A,   U,   U,   U,   U,   200, U)),
    ],
    "proposals": [
        Row("POST",   "/api/v1/calls/{call_id}/proposals",                   PUBLISHED_CALL, (A,   201, 201, U,   U,   U,   U)),
        Row("POST",   "/api/v1/calls/{call_id}/proposals",                   DRAFT_CALL,     (A,   F,   F,   U,   U,   U,   U)),
        Row("GET",    "/api/v1/proposals",                                   NOTHING,        (A,   200, 200, 200, 200, 200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}",                     DRAFT,          (A,   200, F,   F,   F,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}",                     SUBMITTED,      (A,   200, F,   F,   F,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}",                     IN_EVALUATION,  (A,   200, F,   200, F,   200, U)),
        Row("PATCH",  "/api/v1/proposals/{proposal_id}",                     DRAFT,          (A,   200, F,   U,   U,   U,   U)),
        Row("POST",   "/api/v1/proposals/{proposal_id}/transitions",         DRAFT,          (A,   200, F,   U,   U,   U,   U), "submit"),
        Row("POST",   "/api/v1/proposals/{proposal_id}/transitions",         SUBMITTED,      (A,   200, F,   U,   U,   U,   U), "withdraw"),
        Row("POST",   "/api/v1/proposals/{proposal_id}/transitions",         SUBMITTED,      (A,   U,   F,   U,   U,   200, U), "start_screening"),
        Row("POST",   "/api/v1/proposals/{proposal_id}/transitions",         EVALUATED,      (A,   U,   F,   U,   U,   200, U), "award"),
        Row("GET",    "/api/v1/proposals/{proposal_id}/history",             SUBMITTED,      (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/history",             IN_EVALUATION,  (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/submissions",         SUBMITTED,      (A,   200, F,   F,   F,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/submissions",         IN_EVALUATION,  (A,   200, F,   200, F,   200, U)),
    ],
    "attachments": [
        Row("POST",   "/api/v1/proposals/{proposal_id}/attachments",         DRAFT,          (A,   201, F,   U,   U,   U,   U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/attachments/{attachment_id}",
                                                                             DRAFT_FILE,     (A,   200, F,   F,   F,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/attachments/{attachment_id}",
                                                                             EVALUATED_FILE, (A,   200, F,   200, F,   200, U)),
        Row("DELETE", "/api/v1/proposals/{proposal_id}/attachments/{attachment_id}",
                                                                             DRAFT_FILE,     (A,   204, F,   U,   U,   U,   U)),
    ],
    "screening and evaluation": [
        Row("PUT",    "/api/v1/proposals/{proposal_id}/screening",           SUBMITTED,      (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/screening",           IN_EVALUATION,  (A,   U,   U,   U,   U,   200, U)),
        Row("POST",   "/api/v1/proposals/{proposal_id}/assignments",         IN_EVALUATION,  (A,   U,   U,   U,   U,   201, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/assignments",         IN_EVALUATION,  (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/evaluations",         IN_EVALUATION,  (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/proposals/{proposal_id}/results",             IN_EVALUATION,  (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/evaluators",                                  NOTHING,        (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/me/evaluator-profile",                        NOTHING,        (A,   U,   U,   200, 200, U,   U)),
        Row("PUT",    "/api/v1/me/evaluator-profile",                        NOTHING,        (A,   U,   U,   200, 200, U,   U)),
    ],
    "assignments": [
        Row("GET",    "/api/v1/me/assignments",                              NOTHING,        (A,   U,   U,   200, 200, U,   U)),
        Row("GET",    "/api/v1/assignments/{assignment_id}",                 ASSIGNMENT,     (A,   U,   U,   200, F,   200, U)),
        Row("POST",   "/api/v1/assignments/{assignment_id}/declaration",     UNDECLARED,     (A,   U,   U,   200, F,   U,   U)),
        Row("POST",   "/api/v1/assignments/{assignment_id}/transitions",     ASSIGNMENT,     (A,   U,   U,   U,   U,   200, U), "withdraw"),
        Row("GET",    "/api/v1/assignments/{assignment_id}/evaluation",      ASSIGNMENT,     (A,   U,   U,   200, F,   200, U)),
        Row("PUT",    "/api/v1/assignments/{assignment_id}/evaluation",      ASSIGNMENT,     (A,   U,   U,   200, F,   U,   U)),
        Row("POST",   "/api/v1/assignments/{assignment_id}/evaluation/submit",
                                                                             SCORED,         (A,   U,   U,   200, F,   U,   U)),
    ],
    "grants": [
        Row("POST",   "/api/v1/calls/{call_id}/award-plan",                  PUBLISHED_CALL, (A,   U,   U,   U,   U,   200, U)),
        Row("GET",    "/api/v1/grants",                                      NOTHING,        (A,   200, 200, U,   U,   200, U)),
        Row("GET",    "/api/v1/grants/{grant_id}",                           GRANT,          (A,   200, F,   U,   U,   200, U)),
        Row("POST",   "/api/v1/grants/{grant_id}/transitions",               GRANT,          (A,   U,   U,   U,   U,   200, U), "sign_contract"),
        Row("GET",    "/api/v1/grants/{grant_id}/history",                   SIGNED_GRANT,   (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/grants/{grant_id}/reports",                   SIGNED_GRANT,   (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/grants/{grant_id}/payments",                  SIGNED_GRANT,   (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/reports",                                     NOTHING,        (A,   200, 200, U,   U,   200, U)),
        Row("GET",    "/api/v1/reports/{report_id}",                         REPORT,         (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/reports/{report_id}/history",                 REPORT,         (A,   200, F,   U,   U,   200, U)),
        Row("PUT",    "/api/v1/reports/{report_id}",                         REPORT,         (A,   200, F,   U,   U,   U,   U)),
        Row("POST",   "/api/v1/reports/{report_id}/transitions",             FILLED_REPORT,  (A,   200, F,   U,   U,   U,   U), "submit"),
        Row("POST",   "/api/v1/reports/{report_id}/transitions",             SUBMITTED_REPORT, (A, U,   F,   U,   U,   200, U), "approve"),
        Row("POST",   "/api/v1/reports/{report_id}/attachments",             REPORT,         (A,   201, F,   U,   U,   U,   U)),
        Row("GET",    "/api/v1/reports/{report_id}/attachments/{attachment_id}",
                                                                             REPORT_FILE,    (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/payments/{payment_id}",                       PAYMENT,        (A,   200, F,   U,   U,   200, U)),
        Row("GET",    "/api/v1/payments/{payment_id}/history",               PAYMENT,        (A,   200, F,   U,   U,   200, U)),
        Row("POST",   "/api/v1/payments/{payment_id}/transitions",           PAYMENT,        (A,   U,   U,   U,   U,   200, U), "pay"),
    ],
    "notifications": [
        Row("GET",    "/api/v1/notifications/catalogue",                     NOTHING,        (A,   U,   U,   U,   U,   200, 200)),
        Row("GET",    "/api/v1/outbox",                                      NOTHING,        (A,   U,   U,   U,   U,   U,   200)),
        Row("POST",   "/api/v1/outbox/{message_id}/retry",                   DEAD_MESSAGE,   (A,   U,   U,   U,   U,   U,   200)),
    ],
}
# fmt: on

# What a transition row sends besides its trigger.
TRIGGER_PAYLOAD: dict[str, dict[str, Any]] = {
    "sign_contract": {"signed_on": "2026-03-02"},
    "pay": {"paid_on": "2026-03-02"},  # the frozen clock's date: not in the future
}
REPORT_BODY = {
    "narrative": "Year one delivered.",
    "spent_to_date": "76000.00",
    "indicator_progress": [{"code": "1.1", "value": "900", "women": "500", "men": "400"}],
}

MATRIX = [row for rows in SECTIONS.values() for row in rows]


# --- helpers -----------------------------------------------------------------------------


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD, which rides on GET, left out)."""
    try:  # FastAPI >= 0.16x keeps included routers as nodes: flatten them
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists routes flat
        routes = app.routes
    found = set()
    for route in routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def assert_problem(response: httpx.Response) -> dict[str, Any]:
    """An error response is RFC 9457 problem+json with type, title and the right status."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("content-type", "").startswith(PROBLEM_JSON), (
        f"{where} with content-type {response.headers.get('content-type')}: {response.text[:300]}"
    )
    body = response.json()
    assert isinstance(body, dict), where
    assert isinstance(body.get("type"), str) and body["type"], f"{where}: {body}"
    assert isinstance(body.get("title"), str) and body["title"], f"{where}: {body}"
    assert body.get("status") == response.status_code, f"{where}: {body}"
    if response.status_code == 401:
        challenge = response.headers.get("www-authenticate", "")
        assert challenge.lower().startswith("bearer"), f"{where}: no Bearer challenge"
    return body


async def database_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal dumps mean nothing was written."""
    dump = {}
    async with db.unit_of_work(write=False) as session:
        for table in Base.metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            dump[table.name] = [tuple(r) for r in (await session.execute(stmt)).all()]
    return dump


def changed_tables(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    return [
        f"{name}: {len(before[name])} rows -> {len(after[name])} rows"
        + ("" if len(before[name]) != len(after[name]) else " (contents changed)")
        for name in before
        if before[name] != after[name]
    ]


_n = itertools.count(1)
_HASHES: dict[str, str] = {}


@pytest.fixture
async def api(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A client that returns 5xx responses instead of raising, so a crash reads as a wrong
    status in the matrix, with its problem body.

    Argon2 is slow on purpose, and every row creates several accounts: here each password is
    hashed once per session and the hash reused (verification, at sign-in, stays real)."""
    passwords = app.state.services.passwords
    real_hash = passwords.hash

    def hash_once(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = real_hash(password)
        return _HASHES[password]

    monkeypatch.setattr(passwords, "hash", hash_once)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://facility.test") as c:
        yield c


@dataclass
class Scene:
    """The callers, and the objects a row points at (built on demand, once per row)."""

    world: World
    api: httpx.AsyncClient
    accounts: dict[str, Account | None] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def build(cls, world: World, api: httpx.AsyncClient) -> Scene:
        scene = cls(world, api)
        scene.accounts = {
            ANONYMOUS: None,
            APPLICANT: await world.applicant(country="KG"),
            OTHER: await world.applicant(country="TJ"),
            # Profiles (nationality FR) make both eligible for KG and TJ proposals.
            EVALUATOR: await evaluator_with_profile(world, expertise=["migration_mobility"]),
            OTHER_EVALUATOR: await evaluator_with_profile(world, expertise=["trafficking"]),
            FUND_MANAGER: await world.fund_manager(),
            ADMIN: await world.admin(),
        }
        return scene

    def fresh(self) -> Scene:
        """The same callers, and none of the objects built so far."""
        return Scene(self.world, self.api, self.accounts)

    def account(self, caller: str) -> Account:
        account = self.accounts[caller]
        assert account is not None
        return account

    def headers(self, caller: str) -> dict[str, str]:
        account = self.accounts[caller]
        return dict(account.headers) if account else {}

    async def _once(self, key: str, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = await make()
        return self._cache[key]

    async def _ok(self, r: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert r.status_code == status, f"scene set-up: {r.status_code} {r.text[:300]}"
        body: dict[str, Any] = r.json()
        return body

    # calls

    async def published_call(self) -> dict[str, Any]:
        fm = self.account(FUND_MANAGER)
        return await self._once(PUBLISHED_CALL, lambda: self.world.call(fm))

    async def draft_call(self) -> dict[str, Any]:
        fm = self.account(FUND_MANAGER)
        return await self._once(DRAFT_CALL, lambda: self.world.draft_call(fm))

    async def two_stage_call(self) -> dict[str, Any]:
        fm = self.account(FUND_MANAGER)
        return await self._once(TWO_STAGE_CALL, lambda: self.world.call(fm, stages="two_stage"))

    # proposals

    async def draft(self) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            call = await self.published_call()
            return await self.world.ready_proposal(self.account(APPLICANT), call["id"])

        return await self._once(DRAFT, make)

    async def submitted(self) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            call = await self.published_call()
            return await self.world.submitted(self.account(APPLICANT), call["id"])

        return await self._once(SUBMITTED, make)

    async def in_evaluation(self, *, declare: bool = True, score: bool = False) -> dict[str, Any]:
        """A screened proposal with the evaluator assigned by hand (and declared, scored)."""
        key = SCORED if score else (IN_EVALUATION if declare else UNDECLARED)

        async def make() -> dict[str, Any]:
            fm, evaluator = self.account(FUND_MANAGER), self.account(EVALUATOR)
            call = await self.published_call()
            proposal = await self.world.submitted(self.account(APPLICANT), call["id"])
            await pass_screening(self.world, fm, proposal["id"])
            url = f"/api/v1/proposals/{proposal['id']}/assignments"
            body = {"evaluator_id": str(evaluator.id)}
            assignment = await self._ok(
                await self.api.post(url, json=body, headers=fm.headers), 201
            )
            base = f"/api/v1/assignments/{assignment['id']}"
            if declare or score:
                declaration = {"conflict_of_interest": False, "statement": "No conflict."}
                r = await self.api.post(
                    f"{base}/declaration", json=declaration, headers=evaluator.headers
                )
                await self._ok(r)
            if score:
                r = await self.api.put(
                    f"{base}/evaluation", json=full_evaluation(GRID), headers=evaluator.headers
                )
                await self._ok(r)
            return {"proposal": proposal, "assignment": assignment}

        return await self._once(key, make)

    async def evaluated(self) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            call = await self.published_call()
            proposal = await self.world.submitted(self.account(APPLICANT), call["id"])
            await force_evaluated(self.world, proposal["id"])
            return proposal

        return await self._once(EVALUATED, make)

    async def grant(self, *, signed: bool) -> dict[str, Any]:
        """The grant awarded to the applicant's proposal (its contract signed or not)."""

        async def make() -> dict[str, Any]:
            fm = self.account(FUND_MANAGER)
            proposal = await self.evaluated()
            await self._ok(await self.world.fire(fm, proposal["id"], "award"))
            r = await self.api.get(
                "/api/v1/grants", params={"call_id": proposal["call_id"]}, headers=fm.headers
            )
            [grant] = [
                g for g in (await self._ok(r))["items"] if g["proposal_id"] == proposal["id"]
            ]
            if signed:
                body = {"trigger": "sign_contract", **TRIGGER_PAYLOAD["sign_contract"]}
                url = f"/api/v1/grants/{grant['id']}/transitions"
                grant = await self._ok(await self.api.post(url, json=body, headers=fm.headers))
            return grant

        return await self._once(SIGNED_GRANT if signed else GRANT, make)

    async def report(self, state: str = REPORT) -> dict[str, Any]:
        """The signed grant's first report: as scheduled, filled in, or submitted."""

        async def make() -> dict[str, Any]:
            grant = await self.grant(signed=True)
            r = await self.api.get(
                f"/api/v1/grants/{grant['id']}/reports", headers=self.headers(FUND_MANAGER)
            )
            report: dict[str, Any] = (await self._ok(r))[0]  # type: ignore[index]
            url, applicant = f"/api/v1/reports/{report['id']}", self.headers(APPLICANT)
            if state in (FILLED_REPORT, SUBMITTED_REPORT):
                versioned = {**applicant, "If-Match": f'"v{report["version"]}"'}
                await self._ok(await self.api.put(url, json=REPORT_BODY, headers=versioned))
            if state == SUBMITTED_REPORT:
                r = await self.api.post(
                    f"{url}/transitions", json={"trigger": "submit"}, headers=applicant
                )
                await self._ok(r)
            return report

        return await self._once(state, make)

    async def report_file(self) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            report = await self.report()
            r = await self.api.post(
                f"/api/v1/reports/{report['id']}/attachments",
                data={"kind": "progress"},
                files={"file": ("progress.pdf", PDF, "application/pdf")},
                headers=self.headers(APPLICANT),
            )
            return await self._ok(r, 201)

        return await self._once(REPORT_FILE, make)

    async def payment(self) -> dict[str, Any]:
        async def make() -> dict[str, Any]:
            grant = await self.grant(signed=True)
            r = await self.api.get(
                f"/api/v1/grants/{grant['id']}/payments", headers=self.headers(FUND_MANAGER)
            )
            return (await self._ok(r))[0]  # type: ignore[no-any-return,index]

        return await self._once(PAYMENT, make)

    async def dead_message(self) -> str:
        """An e-mail the worker gave up on (written directly: no mail server in this test)."""

        async def make() -> str:
            now = self.world.clock.now()
            async with self.world.svc.db.unit_of_work() as session:
                message = OutboxMessage(
                    message_id=f"<{uuid.uuid4()}@facility.test>", kind="test",
                    recipient_email="nobody@example.org", locale="en", context={},
                    status=DEAD, attempts=8, next_attempt_at=now, created_at=now,
                    last_error="550 mailbox unavailable",
                )  # fmt: skip
                session.add(message)
                await session.flush()
                return str(message.id)

        return await self._once(DEAD_MESSAGE, make)

    async def first_attachment(self, proposal_id: str) -> dict[str, Any]:
        r = await self.api.get(
            f"/api/v1/proposals/{proposal_id}", headers=self.headers(FUND_MANAGER)
        )
        return (await self._ok(r))["attachments"][0]  # type: ignore[no-any-return]

    async def path_params(self, target: str) -> dict[str, str]:
        if target in (PUBLISHED_CALL, DRAFT_CALL, TWO_STAGE_CALL):
            make = {
                PUBLISHED_CALL: self.published_call,
                DRAFT_CALL: self.draft_call,
                TWO_STAGE_CALL: self.two_stage_call,
            }[target]
            return {"call_id": (await make())["id"]}
        if target in (DRAFT, SUBMITTED, DRAFT_FILE):
            proposal = await (self.submitted() if target == SUBMITTED else self.draft())
            params = {"proposal_id": proposal["id"]}
            if target == DRAFT_FILE:
                params["attachment_id"] = (await self.first_attachment(proposal["id"]))["id"]
            return params
        if target in (IN_EVALUATION, EVALUATED_FILE):
            proposal = (await self.in_evaluation())["proposal"]
            params = {"proposal_id": proposal["id"]}
            if target == EVALUATED_FILE:
                params["attachment_id"] = (await self.first_attachment(proposal["id"]))["id"]
            return params
        if target == EVALUATED:
            return {"proposal_id": (await self.evaluated())["id"]}
        if target in (GRANT, SIGNED_GRANT):
            return {"grant_id": (await self.grant(signed=target == SIGNED_GRANT))["id"]}
        if target in (REPORT, FILLED_REPORT, SUBMITTED_REPORT):
            return {"report_id": (await self.report(target))["id"]}
        if target == REPORT_FILE:
            attachment = await self.report_file()
            return {"report_id": (await self.report())["id"], "attachment_id": attachment["id"]}
        if target == PAYMENT:
            return {"payment_id": (await self.payment())["id"]}
        if target in (ASSIGNMENT, UNDECLARED, SCORED):
            made = await self.in_evaluation(declare=target != UNDECLARED, score=target == SCORED)
            return {"assignment_id": made["assignment"]["id"]}
        if target == DEAD_MESSAGE:
            return {"message_id": await self.dead_message()}
        if target == USER:
            return {"user_id": str((await self.world.evaluator()).id)}
        if target == PROBLEM_TYPE:
            return {"slug": "not-found"}
        assert target == NOTHING, target
        return {}

    async def etag(self, path: str) -> str:
        """The current ETag of a call, proposal or report, read by someone who may see it."""
        r = await self.api.get(path, headers=self.headers(FUND_MANAGER))
        assert r.status_code == 200, r.text
        return r.headers["etag"]

    def body(self, row: Row, caller: str) -> dict[str, Any]:
        """httpx arguments for a body that would be accepted from an allowed caller."""
        key, n = (row.method, row.path), next(_n)
        if key == ("POST", "/api/v1/auth/register"):
            return {
                "json": {
                    "email": f"registrant{n}@example.org",
                    "password": PASSWORD,
                    "full_name": f"Registrant {n}",
                    "organisation": {
                        "name": f"Registered organisation {n}",
                        "iati_type": 22,
                        "country": "UZ",
                        "registration_number": f"UZ-{n}",
                    },
                }
            }
        if key == ("POST", "/api/v1/auth/token"):
            who = self.account(APPLICANT if caller == ANONYMOUS else caller)
            return {"data": {"username": who.email, "password": PASSWORD}}
        if key == ("PATCH", "/api/v1/me"):
            return {"json": {"preferred_language": "ru"}}
        if key == ("POST", "/api/v1/users"):
            return {
                "json": {
                    "email": f"staff{n}@example.org",
                    "password": PASSWORD,
                    "full_name": f"Staff member {n}",
                    "role": "evaluator",
                }
            }
        if key == ("PATCH", "/api/v1/users/{user_id}"):
            return {"json": {"is_active": False}}
        if key == ("POST", "/api/v1/calls"):
            return {"json": call_body(self.world.clock)}
        if key == ("PATCH", "/api/v1/calls/{call_id}"):
            return {"json": {"title": f"Retitled call {n}"}}
        if key == ("POST", "/api/v1/calls/{call_id}/proposals"):
            return {"json": proposal_body()}
        if key == ("PATCH", "/api/v1/proposals/{proposal_id}"):
            return {"json": {"title": f"Retitled proposal {n}"}}
        if row.path.endswith("/transitions"):
            assert row.trigger is not None
            return {"json": {"trigger": row.trigger, **TRIGGER_PAYLOAD.get(row.trigger, {})}}
        if key == ("POST", "/api/v1/proposals/{proposal_id}/attachments"):
            return {
                "data": {"kind": "logframe"},
                "files": {"file": ("logframe.pdf", PDF, "application/pdf")},
            }
        if key == ("PUT", "/api/v1/proposals/{proposal_id}/screening"):
            return {"json": {"items": []}}
        if key == ("POST", "/api/v1/proposals/{proposal_id}/assignments"):
            return {"json": {"evaluator_id": str(self.account(OTHER_EVALUATOR).id)}}
        if key == ("PUT", "/api/v1/reports/{report_id}"):
            return {"json": REPORT_BODY}
        if key == ("POST", "/api/v1/reports/{report_id}/attachments"):
            return {
                "data": {"kind": "progress"},
                "files": {"file": ("progress.pdf", PDF, "application/pdf")},
            }
        if key == ("PUT", "/api/v1/me/evaluator-profile"):
            profile = {"expertise": ["integration"], "languages": ["en"], "countries": ["FR"]}
            return {"json": profile}
        if key == ("POST", "/api/v1/assignments/{assignment_id}/declaration"):
            return {"json": {"conflict_of_interest": False, "statement": "No conflict."}}
        if key == ("PUT", "/api/v1/assignments/{assignment_id}/evaluation"):
            return {"json": full_evaluation(GRID)}
        return {}

    async def request(
        self, row: Row, caller: str, params: dict[str, str], if_match: str | None
    ) -> httpx.Response:
        headers = self.headers(caller)
        if if_match is not None:
            headers["If-Match"] = if_match
        url = row.path.format(**params)
        return await self.api.request(row.method, url, headers=headers, **self.body(row, caller))


async def check_row(row: Row, scene: Scene, db: Database) -> None:
    params = await scene.path_params(row.target)
    if_match = None
    if row.method == "PATCH" and "call_id" in params:
        if_match = await scene.etag(f"/api/v1/calls/{params['call_id']}")
    elif row.method == "PATCH" and "proposal_id" in params:
        if_match = await scene.etag(f"/api/v1/proposals/{params['proposal_id']}")
    elif row.method == "PUT" and row.path == "/api/v1/reports/{report_id}":
        if_match = await scene.etag(f"/api/v1/reports/{params['report_id']}")

    expected = row.expected()
    refused = [c for c in CALLERS if expected[c] >= 400]
    allowed = [c for c in CALLERS if expected[c] < 400]
    actual: dict[str, int] = {}
    problems: dict[str, dict[str, Any]] = {}
    errors: list[str] = []

    # GET runs in a read-only unit of work (always rolled back): only other methods can write.
    writes = row.method != "GET"
    before = await database_rows(db) if writes else {}
    for caller in refused:
        r = await scene.request(row, caller, params, if_match)
        actual[caller] = r.status_code
        if r.status_code >= 400:
            problems[caller] = assert_problem(r)
    after = await database_rows(db) if writes else {}
    for caller in allowed:
        r = await scene.request(row, caller, params, if_match)
        actual[caller] = r.status_code
        if r.status_code >= 400:
            assert_problem(r)
            errors.append(f"as {caller}: {r.status_code} {r.text[:200]}")

    observed = {c: actual[c] for c in CALLERS}
    assert observed == expected, f"expected {expected}, got {observed}" + "".join(
        f"; {e}" for e in errors
    )
    assert changed_tables(before, after) == [], "a refused request wrote to the database"

    # An object the caller may not see, and one that does not exist, are indistinguishable
    # (every caller refused with 404 is checked); for a caller allowed to use the object, an
    # unknown id is a 404 too (the first such caller is checked). 403s are left out: some
    # are decided after the lookup (a manager editing a proposal).
    if params and row.target != PROBLEM_TYPE:
        random_ids = {name: str(uuid.uuid4()) for name in params}
        hidden_from = [c for c in CALLERS if expected[c] == 404]
        for caller in hidden_from + allowed[:1]:
            r = await scene.request(row, caller, random_ids, if_match)
            want = 404
            assert r.status_code == want, (
                f"as {caller} with unknown ids: {r.status_code} {r.text[:300]}"
            )
            body = assert_problem(r)
            if expected[caller] == 404:
                hidden = {k: problems[caller].get(k) for k in ("type", "title", "status", "detail")}
                missing = {k: body.get(k) for k in ("type", "title", "status", "detail")}
                assert hidden == missing, (
                    f"as {caller}: a hidden object answers {hidden}, a missing one {missing}"
                )


# --- the matrix ----------------------------------------------------------------------------


def test_every_route_is_in_the_matrix(tmp_path: Any) -> None:
    """A route the matrix does not list fails here: add a row saying who may call it.
    A row naming a route that no longer exists fails too."""
    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        secret_key=SecretStr("x" * 48),
        attachment_dir=tmp_path / "attachments",
        mail_dir=tmp_path / "mail",
    )
    served = routes_of(create_app(settings))
    listed = {(row.method, row.path) for row in MATRIX}
    assert sorted(served - listed) == [], "routes missing from the authorization matrix"
    assert sorted(listed - served) == [], "matrix rows for routes the app does not serve"


def test_matrix_rows_are_unique() -> None:
    ids = [row.id for row in MATRIX]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("section", list(SECTIONS))
async def test_authorization_matrix(
    section: str, world: World, api: httpx.AsyncClient, db: Database
) -> None:
    failures = []
    callers = await Scene.build(world, api)
    for row in SECTIONS[section]:
        try:
            await check_row(row, callers.fresh(), db)  # new objects for each row
        except AssertionError as exc:
            failures.append(f"- {row.id}: {str(exc).splitlines()[0]}")
    assert not failures, f"{len(failures)} of {len(SECTIONS[section])} rows failed:\n" + "\n".join(
        failures
    )


# --- what allowed callers see ---------------------------------------------------------------

# Who sees which calls in the list (drafts: staff who manage calls only).
DRAFT_VISIBILITY = {
    ANONYMOUS: False,
    APPLICANT: False,
    EVALUATOR: False,
    FUND_MANAGER: True,
    ADMIN: True,
}


async def test_draft_calls_are_listed_for_staff_only(world: World, api: httpx.AsyncClient) -> None:
    scene = await Scene.build(world, api)
    published, draft = await scene.published_call(), await scene.draft_call()
    for caller, sees_drafts in DRAFT_VISIBILITY.items():
        headers = scene.headers(caller)
        r = await api.get("/api/v1/calls", params={"limit": 500}, headers=headers)
        assert r.status_code == 200
        ids = {c["id"] for c in r.json()["items"]}
        assert published["id"] in ids, caller
        assert (draft["id"] in ids) is sees_drafts, caller
        # Filtering by status does not reveal drafts either.
        r = await api.get("/api/v1/calls", params={"status": "draft"}, headers=headers)
        assert r.status_code == 200
        drafts = [c["id"] for c in r.json()["items"]]
        assert drafts == ([draft["id"]] if sees_drafts else []), caller


# Which proposals each caller finds in the list: the applicant's draft, the other
# organisation's draft, and the applicant's proposal in evaluation (assigned to EVALUATOR).
PROPOSAL_VISIBILITY = {
    APPLICANT: (True, False, True),
    OTHER: (False, True, False),
    EVALUATOR: (False, False, True),
    OTHER_EVALUATOR: (False, False, False),
    FUND_MANAGER: (True, True, True),
}


async def test_proposal_list_shows_what_each_caller_may_read(
    world: World, api: httpx.AsyncClient
) -> None:
    scene = await Scene.build(world, api)
    call = await scene.published_call()
    own = await scene.draft()
    others = await world.draft(scene.account(OTHER), call["id"])
    evaluated = (await scene.in_evaluation())["proposal"]
    for caller, visible in PROPOSAL_VISIBILITY.items():
        for query in ({}, {"call_id": call["id"]}):
            r = await api.get("/api/v1/proposals", params=query, headers=scene.headers(caller))
            assert r.status_code == 200, r.text
            ids = {p["id"] for p in r.json()["items"]}
            seen = tuple(p["id"] in ids for p in (own, others, evaluated))
            assert seen == visible, (caller, query)


async def test_foreign_attachment_through_own_proposal_is_not_found(
    world: World, api: httpx.AsyncClient
) -> None:
    """An attachment id is only reachable under its own proposal: naming another
    organisation's attachment under one's own proposal is 404, for reading and deleting."""
    scene = await Scene.build(world, api)
    own = await scene.draft()
    foreign = await scene.first_attachment(own["id"])
    call = await scene.published_call()
    mine = await world.ready_proposal(scene.account(OTHER), call["id"])
    url = f"/api/v1/proposals/{mine['id']}/attachments/{foreign['id']}"
    for method in ("GET", "DELETE"):
        r = await api.request(method, url, headers=scene.headers(OTHER))
        assert r.status_code == 404, r.text
        assert_problem(r)
    # Still there for its owner.
    r = await api.get(
        f"/api/v1/proposals/{own['id']}/attachments/{foreign['id']}",
        headers=scene.headers(APPLICANT),
    )
    assert r.status_code == 200
    assert r.content == PDF


# What the assigned evaluator may read, by the state of the assignment: the proposal, its
# submissions, its attachment, the assignment, the evaluation. No content before the
# declaration (403 declaration-required: the assignment already told them the proposal
# exists), none after a recusal or a withdrawal (404); the assignment stays readable.
EVALUATOR_ACCESS: dict[str, tuple[int, int, int, int, int]] = {
    "assigned, not declared": (403, 403, 403, 200, 403),
    "declared (active)": (200, 200, 200, 200, 200),
    "evaluation submitted": (200, 200, 200, 200, 200),
    "recused": (404, 404, 404, 200, 200),
    "withdrawn by a fund manager": (404, 404, 404, 200, 200),
}


async def test_evaluator_reads_the_proposal_only_while_declared(
    world: World, api: httpx.AsyncClient
) -> None:
    callers = await Scene.build(world, api)
    evaluator, fm = callers.headers(EVALUATOR), callers.headers(FUND_MANAGER)
    seen = {}
    for state in EVALUATOR_ACCESS:
        scene = callers.fresh()
        declare = state not in ("assigned, not declared", "recused")
        made = await scene.in_evaluation(declare=declare, score=state == "evaluation submitted")
        pid, aid = made["proposal"]["id"], made["assignment"]["id"]
        file = await scene.first_attachment(pid)
        url = f"/api/v1/assignments/{aid}"
        r = None
        if state == "evaluation submitted":
            r = await api.post(f"{url}/evaluation/submit", headers=evaluator)
        elif state == "recused":
            conflict = {"conflict_of_interest": True, "statement": "I advised this applicant."}
            r = await api.post(f"{url}/declaration", json=conflict, headers=evaluator)
        elif state == "withdrawn by a fund manager":
            r = await api.post(f"{url}/transitions", json={"trigger": "withdraw"}, headers=fm)
        assert r is None or r.status_code == 200, r.text
        urls = [
            f"/api/v1/proposals/{pid}",
            f"/api/v1/proposals/{pid}/submissions",
            f"/api/v1/proposals/{pid}/attachments/{file['id']}",
            f"/api/v1/assignments/{aid}",
            f"/api/v1/assignments/{aid}/evaluation",
        ]
        statuses = []
        for url in urls:
            r = await api.get(url, headers=evaluator)
            if r.status_code >= 400:
                body = assert_problem(r)
                if r.status_code == 403:
                    assert body["type"] == "/problems/declaration-required", (state, url, body)
            statuses.append(r.status_code)
        seen[state] = tuple(statuses)
    assert seen == EVALUATOR_ACCESS


# --- a role refusal does not depend on the state --------------------------------------------


async def test_applicant_triggers_are_forbidden_to_managers_in_every_state(
    world: World, api: httpx.AsyncClient
) -> None:
    """Even where the workflow would not allow the trigger anyway: 403, not 409."""
    scene = await Scene.build(world, api)
    submitted = await scene.submitted()
    url = f"/api/v1/proposals/{submitted['id']}/transitions"
    seen = {}
    # "submit" on a submitted proposal; then "withdraw" once the applicant has withdrawn it.
    r = await api.post(url, json={"trigger": "submit"}, headers=scene.headers(FUND_MANAGER))
    seen["submit on a submitted proposal"] = r.status_code
    r = await api.post(url, json={"trigger": "withdraw"}, headers=scene.headers(APPLICANT))
    assert r.status_code == 200, r.text
    r = await api.post(url, json={"trigger": "withdraw"}, headers=scene.headers(FUND_MANAGER))
    seen["withdraw on a withdrawn proposal"] = r.status_code
    assert seen == {
        "submit on a submitted proposal": 403,
        "withdraw on a withdrawn proposal": 403,
    }
