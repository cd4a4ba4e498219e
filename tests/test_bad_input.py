"""Malformed input, endpoint by endpoint: every refusal is a 4xx problem, never a 5xx, and
nothing is written.

Each endpoint that takes a body has a table of bad inputs. A case changes one thing in a
request that is otherwise valid (the same request, sent last, must succeed: so each refusal
is down to the one change). For every case the test checks:

* the status is the expected 4xx (a crash, 5xx, always fails);
* the response is ``application/problem+json`` with ``type``, ``title`` and ``status``;
* for validation errors (422), an ``errors`` list whose entries carry ``location``,
  ``field`` and ``pointer``, one of them naming the offending field
  (e.g. ``country_shares.0.country`` with the pointer ``/country_shares/0/country``);
* nothing was written: no INSERT, UPDATE or DELETE was committed for the request (the
  app's engines are watched), and after all of an endpoint's cases the database is the
  same row for row (and no file was stored, for uploads).

Every id in every path and the query parameters of the list endpoints get the same
treatment. The cases of an endpoint share the accounts, calls and proposals it needs, and
the endpoints of a group share one app; a test goes through every case and then fails with
the list of those that went wrong.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from facility.calls.grids import prag_full_application_grid
from facility.db.engine import Database
from facility.models import Base
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


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "not given" (None is a value a client can send)
DROP: Any = type("Drop", (), {"__repr__": lambda self: "DROP"})()  # remove the field


class Lit(str):
    """JSON text sent verbatim, for numbers Python cannot hold as they are (e.g. 1e400)."""


@dataclass(frozen=True)
class Bad:
    """One malformed request: a valid one with a single change."""

    what: str
    # Where to set ``value`` in the valid body (or form): dotted, e.g. "a.0.b", or a tuple of
    # parts when a key itself contains a dot (criterion ids such as "1.1").
    path: str | tuple[str | int, ...] | None = None
    value: Any = None  # what to put there (DROP removes the field)
    whole: Any = UNSET  # instead: this JSON value as the entire body
    raw: bytes | None = None  # instead: these bytes as the entire body
    content_type: str = "application/json"
    files: Any = UNSET  # multipart only: replaces the files of the valid request
    headers: dict[str, str] = field(default_factory=dict)
    status: int | tuple[int, ...] = 422
    # Where the error must be reported (422 only), like ``path``. UNSET: at ``path`` itself
    # (the whole body for whole-body cases); None: not checked (a JSON syntax error).
    field: Any = UNSET
    location: str = "body"
    code: str | None = None  # the errors[].code expected, when it matters

    @property
    def expected_parts(self) -> tuple[str | int, ...] | None:
        where = self.field
        if where is UNSET:
            if self.whole is not UNSET or (self.raw is not None and self.path is None):
                return ()
            where = self.path
        return None if where is None else parts_of(where)


def bad(what: str, path: str | tuple[str | int, ...], value: Any, **kw: Any) -> Bad:
    return Bad(what, path=path, value=value, **kw)


def parts_of(path: str | tuple[str | int, ...]) -> tuple[str | int, ...]:
    if isinstance(path, tuple):
        return path
    if path == "":
        return ()
    return tuple(int(p) if p.isdigit() else p for p in path.split("."))


# --- building and sending requests ---------------------------------------------------------


def _set(body: Any, path: str | tuple[str | int, ...], value: Any) -> None:
    *parents, last = parts_of(path)
    for key in parents:
        body = body[key]
    if value is DROP:
        del body[last]
    else:
        body[last] = value


def encode_json(body: Any) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates travel as \\ud800
    (valid JSON text that no UTF-8 string can hold), and Lit values sent verbatim."""
    literals: dict[str, str] = {}

    def swap(value: Any) -> Any:
        if isinstance(value, Lit):
            key = f"__literal_{len(literals)}__"
            literals[f'"{key}"'] = str(value)
            return key
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=True)
    for placeholder, literal in literals.items():
        text = text.replace(placeholder, literal)
    return text.encode("ascii")


@dataclass
class Target:
    """Where an endpoint's valid request goes, as whom, and with what."""

    method: str
    url: str
    headers: dict[str, str]
    json: Any = UNSET
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None

    def request_kwargs(self, case: Bad | None = None) -> dict[str, Any]:
        headers = dict(self.headers)
        kwargs: dict[str, Any] = {}
        if case is not None:
            headers.update(case.headers)
        if case is not None and case.raw is not None:
            headers["Content-Type"] = case.content_type
            kwargs["content"] = case.raw
        elif self.data is not None:  # a form (sign-in) or multipart upload
            data = copy.deepcopy(self.data)
            files = self.files
            if case is not None and case.whole is not UNSET:
                headers["Content-Type"] = "application/json"
                kwargs["content"] = encode_json(case.whole)
                return {"headers": headers, **kwargs}
            if case is not None and case.path is not None:
                _set(data, case.path, case.value)
            if case is not None and case.files is not UNSET:
                files = case.files
            kwargs["data"] = data
            if files:
                kwargs["files"] = files
        else:
            body = copy.deepcopy(self.json)
            if case is not None and case.whole is not UNSET:
                body = case.whole
            elif case is not None and case.path is not None:
                _set(body, case.path, case.value)
            headers["Content-Type"] = "application/json"
            kwargs["content"] = encode_json(body)
        return {"headers": headers, **kwargs}


def assert_problem(r: httpx.Response) -> dict[str, Any]:
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    assert r.headers.get("content-type", "").startswith(PROBLEM_JSON), f"{where}: {r.text[:300]}"
    body = r.json()
    assert isinstance(body, dict), where
    assert isinstance(body.get("type"), str) and body["type"], f"{where}: {body}"
    assert isinstance(body.get("title"), str) and body["title"], f"{where}: {body}"
    assert body.get("status") == r.status_code, f"{where}: {body}"
    return body


def pointer_of(parts: tuple[str | int, ...]) -> str:
    """RFC 6901: "" for the whole document, else "/" before each escaped step."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_of_pointer(pointer: str) -> str:
    steps = pointer.split("/")[1:]
    return ".".join(s.replace("~1", "/").replace("~0", "~") for s in steps)


def check_refusal(case: Bad, r: httpx.Response) -> None:
    where = f"{case.what}: {r.request.method} {r.request.url.path} -> {r.status_code}"
    allowed = case.status if isinstance(case.status, tuple) else (case.status,)
    assert r.status_code < 500, f"{where} (a crash): {r.text[:500]}"
    assert r.status_code in allowed, f"{where}, expected {allowed}: {r.text[:500]}"
    body = assert_problem(r)
    if r.status_code != 422:
        return
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, f"{where}: no errors list in {body}"
    for entry in errors:
        for key in ("location", "field", "pointer"):
            assert isinstance(entry.get(key), str), f"{where}: {key} missing in {entry}"
        assert entry["field"] == field_of_pointer(entry["pointer"]), f"{where}: {entry}"
    parts = case.expected_parts
    if parts is None:
        if case.code:
            assert case.code in {e.get("code") for e in errors}, f"{where}: {errors}"
        return
    expected = (case.location, ".".join(map(str, parts)), pointer_of(parts))
    named = [(e["location"], e["field"], e["pointer"]) for e in errors]
    assert expected in named, f"{where}: expected an error at {expected}, got {named}"
    if case.code:
        codes = {e.get("code") for e in errors if e["pointer"] == expected[2]}
        assert case.code in codes, f"{where}: expected code {case.code}, got {errors}"


async def database_rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal dumps mean nothing was written."""
    dump = {}
    async with db.unit_of_work(write=False) as session:
        for table in Base.metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            dump[table.name] = [tuple(r) for r in (await session.execute(stmt)).all()]
    return dump


class WriteLog:
    """Every INSERT, UPDATE and DELETE the app commits, seen on its engines: an empty log
    after a request means the request wrote nothing (a refusal may read, and may write in a
    transaction that is then rolled back, but must never commit)."""

    VERBS = re.compile(r"^\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE)\b", re.I | re.S)

    def __init__(self, db: Database) -> None:
        self._pending: dict[int, list[str]] = {}
        self._committed: list[str] = []
        self._engines = {db.write_engine.sync_engine, db.read_engine.sync_engine}
        self._listeners = [
            ("begin", self._begin),
            ("before_cursor_execute", self._execute),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        for engine in self._engines:
            for name, fn in self._listeners:
                event.listen(engine, name, fn)

    def close(self) -> None:
        for engine in self._engines:
            for name, fn in self._listeners:
                event.remove(engine, name, fn)

    def _begin(self, conn: Any) -> None:
        self._pending[id(conn)] = []

    def _execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.VERBS.match(statement):
            self._pending.setdefault(id(conn), []).append(statement.split("(")[0].strip())

    def _commit(self, conn: Any) -> None:
        self._committed += self._pending.pop(id(conn), [])

    def _rollback(self, conn: Any) -> None:
        self._pending.pop(id(conn), None)

    def take(self) -> list[str]:
        """The writes committed since the last call."""
        taken, self._committed = self._committed, []
        return taken


@pytest.fixture
def writes(db: Database) -> Iterator[WriteLog]:
    log = WriteLog(db)
    yield log
    log.close()


def stored_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class Cases:
    """Runs every case of a table and reports all the failing ones at the end."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0

    @contextmanager
    def case(self, what: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            message = str(exc).splitlines()[0]
            label = what.split("] ", 1)[-1]  # the case, without its [endpoint] prefix
            if message.startswith(f"{label}: "):
                message = message[len(label) + 2 :]
            self.failures.append(f"- {what}: {message}")
        else:
            self.passed += 1

    def assert_all_passed(self) -> None:
        total = self.passed + len(self.failures)
        assert not self.failures, f"{len(self.failures)} of {total} cases failed:\n" + "\n".join(
            self.failures
        )


_HASHES: dict[str, str] = {}


@pytest.fixture
async def api(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """A client that answers 5xx with the response instead of raising, so a crash reads as
    a failed case with its problem body. Argon2 is slow on purpose: each password is hashed
    once per session and the hash reused (sign-in still verifies for real)."""
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


# --- the scenarios each endpoint needs ------------------------------------------------------


CHECKLIST = [{"id": "declaration_of_honour", "label": "Declaration of honour signed"}]
GRID = prag_full_application_grid()
CRITERION = GRID["criteria"][0]["id"]  # "1.1": a key with a dot in it
SECTION = GRID["sections"][0]["id"]
PROFILE: dict[str, Any] = {
    "expertise": ["trafficking"],
    "languages": ["en", "ru"],
    "countries": ["FR"],
    "affiliations": [
        {"name": "Lyon Migration Institute", "country": "FR", "registration_number": "FR-77"}
    ],
}

REPORT_BODY: dict[str, Any] = {
    "narrative": "Year one delivered.",
    "spent_to_date": "76000.00",
    "indicator_progress": [{"code": "1.1", "value": "900", "women": "500", "men": "400"}],
}

REGISTRATION: dict[str, Any] = {
    "email": "new.applicant@example.org",
    "password": PASSWORD,
    "full_name": "New Applicant",
    "preferred_language": "en",
    "organisation": {
        "name": "Bishkek Migrant Support",
        "iati_type": 22,
        "country": "KG",
        "registration_number": "KG-12345",
    },
}


@dataclass
class Bench:
    world: World
    api: httpx.AsyncClient
    _cache: dict[str, Any] = field(default_factory=dict)

    async def _once(self, key: str, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = await make()
        return self._cache[key]

    async def applicant(self) -> Account:
        return await self._once("applicant", self.world.applicant)

    async def fund_manager(self) -> Account:
        return await self._once("fund_manager", self.world.fund_manager)

    async def admin(self) -> Account:
        return await self._once("admin", self.world.admin)

    async def evaluator(self) -> Account:
        return await self._once("evaluator", lambda: evaluator_with_profile(self.world))

    async def call(self) -> dict[str, Any]:
        return await self._once("call", lambda: self._call())

    async def _call(self) -> dict[str, Any]:
        return await self.world.call(await self.fund_manager(), screening_checklist=CHECKLIST)

    async def draft_call(self) -> dict[str, Any]:
        return await self._once("draft_call", lambda: self._draft_call())

    async def _draft_call(self) -> dict[str, Any]:
        return await self.world.draft_call(await self.fund_manager())

    async def proposal(self) -> dict[str, Any]:
        """A complete draft with its budget attached: ready to submit."""
        return await self._once("proposal", lambda: self._proposal())

    async def _proposal(self) -> dict[str, Any]:
        call = await self.call()
        return await self.world.ready_proposal(await self.applicant(), call["id"])

    async def submitted(self) -> dict[str, Any]:
        return await self._once("submitted", lambda: self._submitted())

    async def _submitted(self) -> dict[str, Any]:
        return await self.world.submitted(await self.applicant(), (await self.call())["id"])

    async def in_evaluation(self) -> dict[str, Any]:
        """A screened proposal in evaluation (no evaluator yet)."""
        return await self._once("in_evaluation", lambda: self._in_evaluation())

    async def _in_evaluation(self) -> dict[str, Any]:
        proposal = await self.world.submitted(await self.applicant(), (await self.call())["id"])
        return await pass_screening(self.world, await self.fund_manager(), proposal["id"])

    async def assignment(self, *, declared: bool) -> dict[str, Any]:
        """The evaluator's assignment to the proposal in evaluation, declared or not."""
        return await self._once(f"assignment {declared}", lambda: self._assignment(declared))

    async def _assignment(self, declared: bool) -> dict[str, Any]:
        proposal = await self.world.submitted(await self.applicant(), (await self.call())["id"])
        fm, evaluator = await self.fund_manager(), await self.evaluator()
        await pass_screening(self.world, fm, proposal["id"])
        url = f"/api/v1/proposals/{proposal['id']}/assignments"
        r = await self.api.post(url, json={"evaluator_id": str(evaluator.id)}, headers=fm.headers)
        assert r.status_code == 201, r.text
        assignment: dict[str, Any] = r.json()
        if declared:
            r = await self.api.post(
                f"/api/v1/assignments/{assignment['id']}/declaration",
                json={"conflict_of_interest": False, "statement": "No conflict."},
                headers=evaluator.headers,
            )
            assert r.status_code == 200, r.text
        return assignment

    async def grant(self, *, signed: bool) -> dict[str, Any]:
        """A grant awarded to the applicant's proposal, its contract signed or not."""
        return await self._once(f"grant {signed}", lambda: self._grant(signed))

    async def _grant(self, signed: bool) -> dict[str, Any]:
        fm = await self.fund_manager()
        # A call without a screening checklist: force_evaluated screens without one.
        call = await self._once("plain call", lambda: self.world.call(fm))
        proposal = await self.world.submitted(await self.applicant(), call["id"])
        await force_evaluated(self.world, proposal["id"])
        r = await self.world.fire(fm, proposal["id"], "award")
        assert r.status_code == 200, r.text
        r = await self.api.get("/api/v1/grants", headers=fm.headers)
        [grant] = [g for g in r.json()["items"] if g["proposal_id"] == proposal["id"]]
        if signed:
            r = await self.api.post(
                f"/api/v1/grants/{grant['id']}/transitions",
                json={"trigger": "sign_contract", "signed_on": "2026-03-02"},
                headers=fm.headers,
            )
            assert r.status_code == 200, r.text
        return dict(grant)

    async def report(self, *, filled: bool) -> dict[str, Any]:
        """The first report of a signed grant, as scheduled or filled in (ready to submit)."""
        return await self._once(f"report {filled}", lambda: self._report(filled))

    async def _report(self, filled: bool) -> dict[str, Any]:
        grant = await self.grant(signed=True)
        fm, applicant = await self.fund_manager(), await self.applicant()
        r = await self.api.get(f"/api/v1/grants/{grant['id']}/reports", headers=fm.headers)
        report: dict[str, Any] = r.json()[0]
        if filled:
            headers = {**applicant.headers, "If-Match": f'"v{report["version"]}"'}
            r = await self.api.put(
                f"/api/v1/reports/{report['id']}", json=REPORT_BODY, headers=headers
            )
            assert r.status_code == 200, r.text
        return report

    async def payment(self) -> dict[str, Any]:
        grant = await self.grant(signed=True)
        fm = await self.fund_manager()
        r = await self.api.get(f"/api/v1/grants/{grant['id']}/payments", headers=fm.headers)
        return dict(r.json()[0])

    async def etag(self, url: str, account: Account) -> str:
        r = await self.api.get(url, headers=account.headers)
        assert r.status_code == 200, r.text
        return str(r.headers["etag"])

    async def target(self, endpoint: str) -> Target:
        now = self.world.clock.now()
        if endpoint == "register":
            return Target("POST", "/api/v1/auth/register", {}, json=REGISTRATION)
        if endpoint == "token":
            who = await self.applicant()
            form = {"username": who.email, "password": PASSWORD}
            return Target("POST", "/api/v1/auth/token", {}, data=form)
        if endpoint == "users_create":
            body = {
                "email": "new.evaluator@example.org",
                "password": PASSWORD,
                "full_name": "New Evaluator",
                "role": "evaluator",
                "preferred_language": "ru",
            }
            return Target("POST", "/api/v1/users", (await self.admin()).headers, json=body)
        if endpoint == "users_patch":
            user = await self.world.evaluator()
            url = f"/api/v1/users/{user.id}"
            return Target("PATCH", url, (await self.admin()).headers, json={"is_active": False})
        if endpoint == "me_patch":
            body = {"full_name": "Renamed Applicant", "preferred_language": "ru"}
            return Target("PATCH", "/api/v1/me", (await self.applicant()).headers, json=body)
        if endpoint == "calls_create":
            body = call_body(self.world.clock)
            return Target("POST", "/api/v1/calls", (await self.fund_manager()).headers, json=body)
        if endpoint == "calls_patch":
            fm = await self.fund_manager()
            url = f"/api/v1/calls/{(await self.draft_call())['id']}"
            headers = {**fm.headers, "If-Match": await self.etag(url, fm)}
            body = {"title": "Retitled call", "max_grant": "240000.00"}
            return Target("PATCH", url, headers, json=body)
        if endpoint == "calls_transition":
            url = f"/api/v1/calls/{(await self.call())['id']}/transitions"
            body = {
                "trigger": "extend_deadline",
                "closes_at": (now + timedelta(days=60)).isoformat(),
                "comment": "More time for applicants",
            }
            return Target("POST", url, (await self.fund_manager()).headers, json=body)
        if endpoint == "proposals_create":
            url = f"/api/v1/calls/{(await self.call())['id']}/proposals"
            return Target("POST", url, (await self.applicant()).headers, json=proposal_body())
        if endpoint == "proposals_patch":
            applicant = await self.applicant()
            url = f"/api/v1/proposals/{(await self.proposal())['id']}"
            headers = {**applicant.headers, "If-Match": await self.etag(url, applicant)}
            body = {"title": "Retitled proposal", "requested_amount": "190000.00"}
            return Target("PATCH", url, headers, json=body)
        if endpoint == "proposals_transition":
            url = f"/api/v1/proposals/{(await self.proposal())['id']}/transitions"
            body = {"trigger": "submit", "comment": "Submitted on time"}
            return Target("POST", url, (await self.applicant()).headers, json=body)
        if endpoint == "attachments_upload":
            url = f"/api/v1/proposals/{(await self.proposal())['id']}/attachments"
            files = {"file": ("logframe.pdf", PDF, "application/pdf")}
            headers = (await self.applicant()).headers
            return Target("POST", url, headers, data={"kind": "logframe"}, files=files)
        if endpoint == "screening_put":
            url = f"/api/v1/proposals/{(await self.submitted())['id']}/screening"
            body = {"items": [{"id": "declaration_of_honour", "passed": True, "note": "Signed"}]}
            return Target("PUT", url, (await self.fund_manager()).headers, json=body)
        if endpoint == "evaluator_profile_put":
            return Target(
                "PUT", "/api/v1/me/evaluator-profile", (await self.evaluator()).headers,
                json=PROFILE,
            )  # fmt: skip
        if endpoint == "assignments_create":
            url = f"/api/v1/proposals/{(await self.in_evaluation())['id']}/assignments"
            body = {
                "evaluator_id": str((await self.evaluator()).id),
                "due_at": (now + timedelta(days=10)).isoformat(),
                "justification": "Available at short notice",
            }
            return Target("POST", url, (await self.fund_manager()).headers, json=body)
        if endpoint == "declaration":
            assignment = await self.assignment(declared=False)
            url = f"/api/v1/assignments/{assignment['id']}/declaration"
            body = {"conflict_of_interest": False, "statement": "No conflict; kept confidential."}
            return Target("POST", url, (await self.evaluator()).headers, json=body)
        if endpoint == "assignments_transition":
            assignment = await self.assignment(declared=True)
            url = f"/api/v1/assignments/{assignment['id']}/transitions"
            body = {"trigger": "withdraw", "comment": "The evaluator is unavailable"}
            return Target("POST", url, (await self.fund_manager()).headers, json=body)
        if endpoint == "evaluation_put":
            assignment = await self.assignment(declared=True)
            url = f"/api/v1/assignments/{assignment['id']}/evaluation"
            body = full_evaluation(GRID)
            return Target("PUT", url, (await self.evaluator()).headers, json=body)
        if endpoint == "grants_transition":
            url = f"/api/v1/grants/{(await self.grant(signed=False))['id']}/transitions"
            body = {"trigger": "sign_contract", "signed_on": "2026-03-02", "comment": "Signed"}
            return Target("POST", url, (await self.fund_manager()).headers, json=body)
        if endpoint == "report_put":
            url = f"/api/v1/reports/{(await self.report(filled=False))['id']}"
            applicant = await self.applicant()
            headers = {**applicant.headers, "If-Match": await self.etag(url, applicant)}
            return Target("PUT", url, headers, json=REPORT_BODY)
        if endpoint == "report_transition":
            url = f"/api/v1/reports/{(await self.report(filled=True))['id']}/transitions"
            body = {"trigger": "submit", "comment": "On time"}
            return Target("POST", url, (await self.applicant()).headers, json=body)
        if endpoint == "report_attachments_upload":
            url = f"/api/v1/reports/{(await self.report(filled=False))['id']}/attachments"
            files = {"file": ("logframe.pdf", PDF, "application/pdf")}
            headers = (await self.applicant()).headers
            return Target("POST", url, headers, data={"kind": "logframe"}, files=files)
        if endpoint == "payment_transition":
            url = f"/api/v1/payments/{(await self.payment())['id']}/transitions"
            body = {"trigger": "pay", "paid_on": "2026-03-02", "comment": "Wired"}
            return Target("POST", url, (await self.fund_manager()).headers, json=body)
        raise AssertionError(endpoint)


# --- the tables -----------------------------------------------------------------------------


def shape_cases() -> list[Bad]:
    """The body as a whole is wrong."""
    return [
        Bad("invalid JSON text", raw=b'{"title": ', field="", code="json_invalid"),
        Bad("a JSON array instead of an object", whole=[]),
        Bad("a JSON number instead of an object", whole=5),
        Bad("a JSON string instead of an object", whole="an object, honestly"),
        Bad("JSON null instead of an object", whole=None),
        Bad("an empty body", raw=b""),
        Bad("bytes that are not UTF-8", raw=b'{"title": "\xff\xfe\xfd"}', status=400),
        Bad("100 000 nested arrays", raw=b"[" * 100_000 + b"]" * 100_000, status=400),
        Bad("JSON sent as text/plain", raw=b"{}", content_type="text/plain", status=(415, 422)),
        bad("an unknown field", "zzz_unknown", 1),
    ]


def text_cases(name: str, *, one_line: bool = True) -> list[Bad]:
    """A text field holds what no text field should."""
    cases = [
        bad(f"{name}: a NUL byte inside", name, "before\x00after"),
        bad(f"{name}: a control character (SOH)", name, "before\x01after"),
        bad(f"{name}: an escape sequence (ESC)", name, "before\x1b[31mafter"),
        bad(f"{name}: DEL", name, "before\x7fafter"),
        bad(f"{name}: a C1 control (CSI)", name, "before\x9b31mafter"),
        bad(f"{name}: a lone surrogate", name, "before\ud800after", code="string_unicode"),
        bad(f"{name}: 100 000 characters", name, "x" * 100_000),
        bad(f"{name}: a number instead of text", name, 12345),
        bad(f"{name}: an object instead of text", name, {"text": "x"}),
        bad(f"{name}: a list instead of text", name, ["x"]),
    ]
    if one_line:
        cases.append(bad(f"{name}: a line break in a one-line field", name, "first\nsecond"))
    return cases


def money_cases(name: str, *, full: bool = True) -> list[Bad]:
    cases = [
        bad(f"{name}: zero", name, "0.00"),
        bad(f"{name}: negative", name, "-1.00"),
        bad(f"{name}: three decimals", name, "1000.005"),
        bad(f"{name}: 1e30", name, 1e30),
    ]
    if full:
        cases += [
            bad(f"{name}: zero as a JSON number", name, 0),
            bad(f"{name}: minus zero", name, "-0"),
            bad(f"{name}: three decimals as a JSON number", name, 1000.005),
            bad(f"{name}: 10**40 as a JSON integer", name, 10**40),
            bad(f'{name}: "1e400" as a string', name, "1e400"),
            bad(f"{name}: 1e400 as a JSON number (infinite)", name, Lit("1e400")),
            bad(f'{name}: "1e-400"', name, "1e-400"),
            bad(f'{name}: "NaN"', name, "NaN"),
            bad(f'{name}: "-Infinity"', name, "-Infinity"),
            bad(f"{name}: words", name, "a lot"),
            bad(f"{name}: an object", name, {"amount": "1.00"}),
        ]
    return cases


def int_cases(name: str, low: int, high: int, *, nullable: bool = False) -> list[Bad]:
    cases = [
        bad(f"{name}: a word instead of a number", name, "twelve"),
        bad(f"{name}: 10**40", name, 10**40),
        bad(f"{name}: 1e30", name, 1e30),
        bad(f"{name}: below the minimum", name, low - 1),
        bad(f"{name}: above the maximum", name, high + 1),
        bad(f"{name}: a fraction", name, 1.5),
        bad(f"{name}: a list", name, [low]),
        # JSON has integers: no coercion from strings, floats or booleans.
        bad(f"{name}: a numeric string", name, str(low)),
        bad(f"{name}: a whole float", name, float(low)),
        bad(f"{name}: true", name, True),
    ]
    if not nullable:
        cases.append(bad(f"{name}: null", name, None))
    return cases


def unknown_fields(*names: str) -> list[Bad]:
    """Fields the client may not set: refused, never silently ignored."""
    value = {"id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4())}
    return [bad(f"unknown field {n}", n, value.get(n, "submitted")) for n in names]


RANDOM = str(uuid.uuid4())
LATE = "9999-12-31T23:59:59-12:00"  # year 10000 in UTC
EARLY = "0001-01-01T00:00:00+14:00"  # year 0 in UTC


def registration(email: str, registration_number: str, **changes: Any) -> dict[str, Any]:
    """A whole registration body, for cases that must not collide with each other."""
    body = copy.deepcopy(REGISTRATION)
    body["email"] = email
    body["organisation"]["registration_number"] = registration_number
    for path, value in changes.items():
        _set(body, path.replace("__", "."), value)
    return body


REGISTER = [
    *shape_cases(),
    *text_cases("full_name"),
    *text_cases("organisation.name"),
    bad("organisation.registration_number: NUL", "organisation.registration_number", "K\x00G"),
    bad(
        "organisation.registration_number: 100 000", "organisation.registration_number", "9" * 10**5
    ),
    bad("email: NUL inside", "email", "new\x00applicant@example.org"),
    bad("email: a line break", "email", "new\napplicant@example.org"),
    bad("email: 100 000 characters", "email", "a" * 100_000 + "@example.org"),
    bad("email: not an address", "email", "not-an-email"),
    bad("email: a number", "email", 42),
    bad("email: DEL inside", "email", "new\x7fapplicant@example.org"),
    bad("email: a C1 control inside", "email", "new\x9bapplicant@example.org"),
    bad("full_name: longer than the column (250)", "full_name", "N" * 250),
    bad("organisation.registration_number: 150", "organisation.registration_number", "9" * 150),
    bad("password: 100 000 characters", "password", "p" * 100_000),
    bad("password: a number", "password", 123456789012345),
    bad("password: too short", "password", "short", code="too_short"),
    bad("organisation.country: XX", "organisation.country", "XX"),
    bad("organisation.country: lower case kg", "organisation.country", "kg"),
    bad("organisation.country: three letters", "organisation.country", "KGZ"),
    bad("organisation.country: a number", "organisation.country", 417),
    bad("organisation.iati_type: not an IATI code", "organisation.iati_type", 99),
    bad("organisation.iati_type: a word", "organisation.iati_type", "ngo"),
    bad("organisation.iati_type: 10**40", "organisation.iati_type", 10**40),
    bad("organisation.iati_type: 1e30", "organisation.iati_type", 1e30),
    bad("organisation: a list instead of an object", "organisation", []),
    bad("organisation: a string instead of an object", "organisation", "My NGO"),
    bad("organisation: missing", "organisation", DROP, code="missing"),
    bad("preferred_language: unknown", "preferred_language", "fr"),
    *unknown_fields("role", "is_active", "organisation_id", "id"),
    bad("organisation: unknown field id", "organisation.id", RANDOM),
]

TOKEN = [
    bad("username: 100 000 characters", "username", "a" * 100_000, status=401),
    bad("password: 100 000 characters", "password", "p" * 100_000, status=401),
    bad("username: a control character", "username", "someone\x01@example.org", status=401),
    bad("username: a NUL byte", "username", "someone\x00@example.org", status=401),
    bad("password: wrong", "password", "not the password", status=401),
    bad("username: missing", "username", DROP, code="missing"),
    bad("password: missing", "password", DROP, code="missing"),
    bad("grant_type: not password", "grant_type", "client_credentials"),
    Bad("JSON instead of a form", whole={"username": "x", "password": "y"}, field="username"),
    Bad(
        "form bytes that are not UTF-8",
        raw=b"username=\xff\xfe&password=x",
        content_type="application/x-www-form-urlencoded",
        status=(400, 401, 422),
        field=None,
    ),
    Bad(
        "an empty body", raw=b"", content_type="application/x-www-form-urlencoded", field="username"
    ),
]

USERS_CREATE = [
    *shape_cases(),
    *text_cases("full_name"),
    bad("role: applicant (they register themselves)", "role", "applicant"),
    bad("role: unknown", "role", "superuser"),
    bad("role: a list", "role", ["admin"]),
    bad("role: missing", "role", DROP, code="missing"),
    bad("email: not an address", "email", "nobody"),
    bad("email: NUL inside", "email", "new\x00evaluator@example.org"),
    bad("email: DEL inside", "email", "new\x7fevaluator@example.org"),
    bad("email: a C1 control inside", "email", "new\x9bevaluator@example.org"),
    bad("full_name: longer than the column (250)", "full_name", "N" * 250),
    bad("password: 100 000 characters", "password", "p" * 100_000),
    bad("preferred_language: upper case", "preferred_language", "EN"),
    *unknown_fields("organisation_id", "is_active", "id"),
]

USERS_PATCH = [
    *shape_cases(),
    bad("is_active: a word", "is_active", "maybe"),
    bad("is_active: an object", "is_active", {}),
    bad("is_active: a list", "is_active", [True]),
    bad("is_active: null", "is_active", None),
    bad("is_active: 10**40", "is_active", 10**40),
    bad("is_active: 'yes'", "is_active", "yes"),
    bad("is_active: 'false'", "is_active", "false"),
    bad("is_active: 1", "is_active", 1),
    bad("is_active: missing", "is_active", DROP, code="missing"),
    *unknown_fields("role", "email", "organisation_id", "password_hash"),
]

ME_PATCH = [
    *shape_cases(),
    *text_cases("full_name"),
    bad("full_name: empty", "full_name", ""),
    bad("full_name: only spaces", "full_name", "   "),
    bad("preferred_language: unknown", "preferred_language", "xx"),
    bad("preferred_language: a number", "preferred_language", 1),
    bad("unknown field trigger holding a list", "trigger", []),
    bad("full_name: longer than the column (250)", "full_name", "N" * 250),
    Bad(
        "full_name a number, and a trigger naming it",
        whole={"trigger": "full_name", "full_name": 12345},
        field="full_name",
        code="string_type",
    ),
    *unknown_fields("role", "email", "is_active", "organisation_id", "id"),
]

_GRID = "evaluation_grid"
CALLS_CREATE = [
    *shape_cases(),
    *text_cases("title"),
    *text_cases("description", one_line=False)[:4],
    bad("description: 100 000 characters", "description", "x" * 100_000),
    *money_cases("budget_envelope"),
    *money_cases("min_grant", full=False),
    *money_cases("max_grant", full=False),
    *int_cases("min_duration_months", 1, 120),
    bad("evaluators_per_proposal: 10**40", "evaluators_per_proposal", 10**40),
    bad("min_cofinancing_pct: negative", "min_cofinancing_pct", "-5"),
    bad("min_cofinancing_pct: above 100", "min_cofinancing_pct", "100.01"),
    bad("divergence_threshold_pct: zero", "divergence_threshold_pct", "0"),
    bad("divergence_threshold_pct: 1e400", "divergence_threshold_pct", "1e400"),
    bad("opens_at: naive (no offset)", "opens_at", "2026-03-02T09:00:00"),
    bad("closes_at: naive (no offset)", "closes_at", "2026-04-01T12:00:00"),
    bad("opens_at: a date only", "opens_at", "2026-03-02"),
    bad("opens_at: words", "opens_at", "next Monday"),
    bad("opens_at: 10**40", "opens_at", 10**40),
    bad("opens_at: 1e30", "opens_at", 1e30),
    bad("opens_at: a month 13", "opens_at", "2026-13-01T00:00:00Z"),
    bad("closes_at: 9999-12-31 at UTC-12 (year 10000 in UTC)", "closes_at", LATE),
    bad("opens_at: 0001-01-01 at UTC+14 (year 0 in UTC)", "opens_at", EARLY),
    bad("eligible_countries: XX", "eligible_countries", ["KG", "XX"], field="eligible_countries.1"),
    bad("eligible_countries: lower case kg", "eligible_countries.0", "kg"),
    bad("eligible_countries: an object", "eligible_countries", {"KG": True}),
    bad("eligible_countries: a string", "eligible_countries", "KG"),
    bad("eligible_countries: empty", "eligible_countries", []),
    bad("eligible_countries: repeated", "eligible_countries", ["KG", "KG"]),
    bad("eligible_org_types: not an IATI code", "eligible_org_types.0", 99),
    bad("eligible_org_types: 10**40", "eligible_org_types.0", 10**40),
    bad("eligible_org_types: a word", "eligible_org_types.0", "ngo"),
    bad("priorities: unknown", "priorities.0", "world_peace"),
    bad("mode: unknown", "mode", "sometimes"),
    bad("stages: unknown", "stages", "three_stage"),
    bad("currency: lower case", "currency", "eur"),
    bad("currency: four letters", "currency", "EURO"),
    bad("reference: lower case", "reference", "lower-case"),
    bad("reference: NUL", "reference", "TST\x00-1"),
    bad(f"{_GRID}: a list instead of an object", _GRID, []),
    bad(f"{_GRID}: criteria as an object", f"{_GRID}.criteria", {"a": 1}),
    bad(f"{_GRID}: max_score 10**40", f"{_GRID}.criteria.0.max_score", 10**40),
    bad(f"{_GRID}: label with NUL", f"{_GRID}.criteria.0.label", "Rele\x00vance"),
    bad(f"{_GRID}: pass_mark 1e400", f"{_GRID}.pass_mark", "1e400"),
    bad(f"{_GRID}: weight zero", f"{_GRID}.criteria.0.weight", "0"),
    bad(f"{_GRID}: missing", _GRID, DROP, code="missing"),
    *unknown_fields("status", "id", "version", "published_at", "created_by_id", "submission_seq"),
]

CALLS_PATCH = [
    *shape_cases(),
    *text_cases("title"),
    bad("title: null", "title", None),
    bad("budget_envelope: null", "budget_envelope", None),
    *money_cases("max_grant", full=False),
    *int_cases("min_duration_months", 1, 120),
    bad("closes_at: naive (no offset)", "closes_at", "2026-05-01T12:00:00"),
    bad("opens_at: words", "opens_at", "soon"),
    bad("closes_at: 9999-12-31 at UTC-12 (year 10000 in UTC)", "closes_at", LATE),
    bad("eligible_countries: XX", "eligible_countries", ["XX"], field="eligible_countries.0"),
    bad(
        "eligible_org_types: not an IATI code",
        "eligible_org_types",
        [21, 99],
        field="eligible_org_types.1",
    ),
    bad("stages: unknown", "stages", "many"),
    bad(f"{_GRID}: a list instead of an object", _GRID, []),
    *unknown_fields("status", "version", "id", "published_at"),
]

CALLS_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a proposal's trigger", "trigger", "submit"),
    bad("trigger: a number", "trigger", 5),
    bad("trigger: null", "trigger", None),
    bad("trigger: a list", "trigger", ["extend_deadline"]),
    bad("trigger: an object", "trigger", {"name": "close"}),
    bad("trigger: missing", "trigger", DROP),
    bad("closes_at: naive (no offset)", "closes_at", "2026-06-01T12:00:00"),
    bad("closes_at: words", "closes_at", "later"),
    bad("closes_at: 10**40", "closes_at", 10**40),
    bad("closes_at: 9999-12-31 at UTC-12 (year 10000 in UTC)", "closes_at", LATE),
    bad("closes_at: missing", "closes_at", DROP, code="missing"),
    bad("unknown field status", "status", "closed"),
    bad("unknown field reason (not for this trigger)", "reason", "why not"),
    Bad("cancel: no reason", whole={"trigger": "cancel"}, field="reason", code="missing"),
    Bad("cancel: reason with NUL", whole={"trigger": "cancel", "reason": "a\x00b"}, field="reason"),
]

_INDICATOR = "logframe.outcomes.0.indicators.0"
PROPOSALS_CREATE = [
    *shape_cases(),
    *text_cases("title"),
    bad("summary: 100 000 characters", "summary", "x" * 100_000),
    bad("summary: NUL", "summary", "A\x00B"),
    *unknown_fields(
        "status",
        "reference",
        "organisation_id",
        "id",
        "version",
        "call_id",
        "stage",
        "submitted_at",
        "content_hash",
        "created_by_id",
    ),
    *money_cases("requested_amount"),
    *money_cases("total_budget", full=False),
    *int_cases("duration_months", 1, 120, nullable=True),
    bad("country_shares: XX", "country_shares.0.country", "XX"),
    bad("country_shares: lower case kg", "country_shares.0.country", "kg"),
    bad("country_shares: a number as country", "country_shares.0.country", 417),
    bad("country_shares: share 1e400", "country_shares.0.share", "1e400"),
    bad("country_shares: share zero", "country_shares.0.share", "0"),
    bad("country_shares: share negative", "country_shares.0.share", "-60"),
    bad("country_shares: share with 3 decimals", "country_shares.0.share", "60.001"),
    bad("country_shares: an object instead of a list", "country_shares", {"KG": "100"}),
    bad("country_shares: a list inside the list", "country_shares.0", ["KG", "100"]),
    bad("country_shares: unknown field", "country_shares.0.region", "Chui"),
    bad(
        "country_shares: not adding up to 100",
        "country_shares.1.share",
        "30",
        field="country_shares",
    ),
    bad("secondary_priorities: an object", "secondary_priorities", {"trafficking": True}),
    bad("secondary_priorities: unknown", "secondary_priorities.0", "world_peace"),
    bad("primary_priority: unknown", "primary_priority", "world_peace"),
    bad("primary_priority: a list", "primary_priority", ["trafficking"]),
    bad("logframe: a list instead of an object", "logframe", []),
    bad("logframe: a string", "logframe", "see annex"),
    bad("logframe: outcomes as an object", "logframe.outcomes", {"0": {}}),
    bad("logframe: indicator name with NUL", f"{_INDICATOR}.name", "Mig\x00rants"),
    bad("logframe: indicator target 1e30", f"{_INDICATOR}.target", 1e30),
    bad("logframe: indicator target 1e400", f"{_INDICATOR}.target", Lit("1e400")),
    bad("logframe: indicator code with a space", f"{_INDICATOR}.code", "1 1"),
    bad("logframe: sex_disaggregated a word", f"{_INDICATOR}.sex_disaggregated", "perhaps"),
    bad("gender_marker: above 2", "gender_marker", 3),
    bad("gender_marker: a word", "gender_marker", "high"),
    bad("gender_marker: 10**40", "gender_marker", 10**40),
    bad("planned_start: 30 February", "planned_start", "2026-02-30"),
    bad("planned_start: 10**40", "planned_start", 10**40),
    bad("planned_start: a time of day", "planned_start", "2026-07-01T10:00:00"),
    bad("planned_start: before 2000", "planned_start", "1999-12-31"),
    bad(
        "Idempotency-Key: a space",
        "title",
        "Fine",
        headers={"Idempotency-Key": "two words"},
        location="header",
        field="Idempotency-Key",
    ),
    bad(
        "Idempotency-Key: 300 characters",
        "title",
        "Fine",
        headers={"Idempotency-Key": "k" * 300},
        location="header",
        field="Idempotency-Key",
    ),
]

PROPOSALS_PATCH = [
    *shape_cases(),
    *text_cases("title"),
    *unknown_fields("status", "reference", "organisation_id", "id", "version", "call_id"),
    *money_cases("requested_amount", full=False),
    bad("duration_months: a word", "duration_months", "twelve"),
    bad(
        "country_shares: XX",
        "country_shares",
        [{"country": "XX", "share": "100"}],
        field="country_shares.0.country",
    ),
    bad("logframe: a list instead of an object", "logframe", []),
    bad(
        "primary priority repeated as secondary",
        "primary_priority",
        "trafficking",
        field="secondary_priorities",
    ),
]

PROPOSALS_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: a call's trigger", "trigger", "publish"),
    bad("trigger: a trigger only the system fires", "trigger", "release_reserve"),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a number", "trigger", 5),
    bad("trigger: an object", "trigger", {"name": "submit"}),
    bad("trigger: missing", "trigger", DROP),
    bad("unknown field status", "status", "awarded"),
    bad("unknown field reason", "reason", "because"),
    # The fund manager's triggers: their bodies are checked whoever sends them.
    Bad(
        "fail_screening: no reasons",
        whole={"trigger": "fail_screening"},
        field="reasons",
        code="missing",
    ),
    Bad(
        "fail_screening: empty reasons",
        whole={"trigger": "fail_screening", "reasons": []},
        field="reasons",
    ),
    Bad(
        "fail_screening: a reason with NUL",
        whole={"trigger": "fail_screening", "reasons": ["Late\x00"]},
        field="reasons.0",
    ),
    Bad(
        "fail_screening: reasons as a string",
        whole={"trigger": "fail_screening", "reasons": "Late"},
        field="reasons",
    ),
    Bad(
        "invite_full_application: a naive due date",
        whole={
            "trigger": "invite_full_application",
            "full_application_due_at": "2026-06-01T00:00:00",
        },
        field="full_application_due_at",
    ),
    Bad(
        "reject: an unknown field",
        whole={"trigger": "reject", "reasons": ["Weak"], "score": 1},
        field="score",
    ),
    Bad(
        "invite_full_application: 9999-12-31 at UTC-12",
        whole={"trigger": "invite_full_application", "full_application_due_at": LATE},
        field="full_application_due_at",
    ),
    Bad("award: zero", whole={"trigger": "award", "amount": "0.00"}, field="amount"),
    Bad("award: three decimals", whole={"trigger": "award", "amount": "1.005"}, field="amount"),
    Bad("award: 1e400", whole={"trigger": "award", "amount": "1e400"}, field="amount"),
]

SCREENING_PUT = [
    *shape_cases(),
    bad("items: an object instead of a list", "items", {"declaration_of_honour": True}),
    bad("items: a string", "items", "all good"),
    bad("items: missing", "items", DROP, code="missing"),
    bad("items: 31 entries", "items", [{"id": f"item_{i}", "passed": True} for i in range(31)]),
    bad("item id: not a slug", "items.0.id", "Declaration Of Honour"),
    bad("item id: NUL", "items.0.id", "declaration\x00"),
    bad("item id: not on the call's checklist", "items.0.id", "bribe_paid"),
    bad(
        "item listed twice",
        "items",
        [{"id": "declaration_of_honour", "passed": True}] * 2,
        field="items.1.id",
    ),
    bad("item passed: a word", "items.0.passed", "maybe"),
    bad("item passed: null", "items.0.passed", None),
    bad(
        "item failed without a note",
        "items.0",
        {"id": "declaration_of_honour", "passed": False},
        field="items.0.note",
    ),
    *text_cases("items.0.note", one_line=False),
    bad("item: unknown field", "items.0.score", 5),
    *unknown_fields("outcome", "automatic_checks"),
]

EVALUATOR_PROFILE_PUT = [
    *shape_cases(),
    *text_cases("affiliations.0.name"),
    bad("expertise: unknown priority", "expertise.0", "world_peace"),
    bad("expertise: an object", "expertise", {"trafficking": True}),
    bad("expertise: repeated", "expertise", ["trafficking", "trafficking"]),
    bad("languages: upper case", "languages.0", "EN"),
    bad("languages: three letters", "languages.0", "eng"),
    bad("countries: XX", "countries.0", "XX"),
    bad("countries: lower case fr", "countries.0", "fr"),
    bad("countries: a string", "countries", "FR"),
    bad("affiliations: an object", "affiliations", {"name": "Institute"}),
    bad("affiliation: a list", "affiliations.0", ["Institute"]),
    bad("affiliation: country XX", "affiliations.0.country", "XX"),
    bad("affiliation: registration number NUL", "affiliations.0.registration_number", "FR\x00"),
    bad("affiliations: 51 entries", "affiliations", PROFILE["affiliations"] * 51),
    *unknown_fields("user_id", "updated_at"),
]

ASSIGNMENTS_CREATE = [
    *shape_cases(),
    *text_cases("justification", one_line=False),
    bad("evaluator_id: not a UUID", "evaluator_id", "not-a-uuid"),
    bad("evaluator_id: a number", "evaluator_id", 42),
    bad("evaluator_id: missing", "evaluator_id", DROP, code="missing"),
    bad("evaluator_id: nobody's", "evaluator_id", RANDOM),
    bad("due_at: naive (no offset)", "due_at", "2026-03-20T12:00:00"),
    bad("due_at: in the past", "due_at", "2020-01-01T00:00:00Z"),
    bad("due_at: words", "due_at", "next week"),
    bad("due_at: 9999-12-31 at UTC-12 (year 10000 in UTC)", "due_at", LATE),
    *unknown_fields("status", "is_arbitration", "stage"),
]

DECLARATION = [
    *shape_cases(),
    *text_cases("statement", one_line=False),
    bad("statement: empty", "statement", ""),
    bad("statement: only spaces", "statement", "   "),
    bad("statement: missing", "statement", DROP, code="missing"),
    bad("conflict_of_interest: a word", "conflict_of_interest", "maybe"),
    bad("conflict_of_interest: null", "conflict_of_interest", None),
    bad("conflict_of_interest: a list", "conflict_of_interest", [False]),
    bad("conflict_of_interest: 'no'", "conflict_of_interest", "no"),
    bad("conflict_of_interest: missing", "conflict_of_interest", DROP, code="missing"),
    *unknown_fields("status", "declared_at"),
]

ASSIGNMENTS_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: an evaluator's trigger", "trigger", "declare_impartiality"),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a list", "trigger", ["withdraw"]),
    bad("trigger: missing", "trigger", DROP),
    *unknown_fields("status", "evaluator_id"),
]

EVALUATION_PUT = [
    *shape_cases(),
    *text_cases("strengths", one_line=False),
    bad("scores: a list", "scores", [4, 4]),
    bad("score: 10**40", ("scores", CRITERION), 10**40),
    bad("score: negative", ("scores", CRITERION), -1),
    bad("score: a fraction", ("scores", CRITERION), 4.5),
    bad("score: a word", ("scores", CRITERION), "four"),
    bad("score: above the criterion's range", ("scores", CRITERION), 99),
    bad("score: for a criterion the grid lacks", ("scores", "Z9"), 3),
    bad("score: for a key that is no criterion id", ("scores", "bad key!"), 3),
    bad("section comment: NUL", ("section_comments", SECTION), "Good\x00"),
    bad("section comment: 100 000 characters", ("section_comments", SECTION), "x" * 100_000),
    bad("gender_marker: 3", "gender_marker", 3),
    bad("recommendation: unknown", "recommendation", "maybe"),
    bad("primary_priority_confirmed: a word", "primary_priority_confirmed", "perhaps"),
    *unknown_fields("total", "section_scores", "submitted_at", "assignment_id"),
]

_FILE = ("logframe.pdf", PDF, "application/pdf")
ATTACHMENTS_UPLOAD = [
    bad("kind: NUL inside", "kind", "log\x00frame"),
    bad("kind: upper case", "kind", "Logframe"),
    bad("kind: a line break", "kind", "logframe\n"),
    bad("kind: 100 000 characters", "kind", "k" * 100_000),
    bad("kind: missing", "kind", DROP, code="missing"),
    Bad("file: missing", files={}, field="file"),
    Bad("file: text instead of a file", files={"file": (None, "not a file")}, field="file"),
    Bad("JSON instead of multipart", whole={"kind": "logframe"}, field="file"),
    Bad("multipart without a boundary", raw=b"abc", content_type="multipart/form-data", status=400),
    Bad(
        "multipart that is garbage",
        raw=b"--x\r\ngarbage",
        content_type="multipart/form-data; boundary=x",
        field="file",
    ),
    Bad("an empty body", raw=b"", content_type="multipart/form-data; boundary=x", field="file"),
]


_PROGRESS = "indicator_progress.0"
GRANTS_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a proposal's trigger", "trigger", "award"),
    bad("trigger: missing", "trigger", DROP),
    bad("signed_on: words", "signed_on", "yesterday"),
    bad("signed_on: 30 February", "signed_on", "2026-02-30"),
    bad("signed_on: 10**40", "signed_on", 10**40),
    bad("signed_on: missing", "signed_on", DROP, code="missing"),
    Bad("suspend: no reason", whole={"trigger": "suspend"}, field="reason", code="missing"),
    Bad(
        "suspend: a reason with NUL",
        whole={"trigger": "suspend", "reason": "A\x00"},
        field="reason",
    ),
    Bad("terminate: an empty reason", whole={"trigger": "terminate", "reason": ""}, field="reason"),
    *unknown_fields("status", "amount"),
]

REPORT_PUT = [
    *shape_cases(),
    *text_cases("narrative", one_line=False),
    bad("spent_to_date: negative", "spent_to_date", "-1.00"),
    bad("spent_to_date: three decimals", "spent_to_date", "1.005"),
    bad("spent_to_date: 1e30", "spent_to_date", 1e30),
    bad('spent_to_date: "1e400"', "spent_to_date", "1e400"),
    bad('spent_to_date: "NaN"', "spent_to_date", "NaN"),
    bad("indicator_progress: an object", "indicator_progress", {"1.1": "900"}),
    bad("indicator progress: a list instead of an object", _PROGRESS, ["1.1", "900"]),
    bad("indicator progress: a code with a space", f"{_PROGRESS}.code", "1 1"),
    bad("indicator progress: an unknown indicator", f"{_PROGRESS}.code", "9.9"),
    bad("indicator progress: value 1e400", f"{_PROGRESS}.value", "1e400"),
    bad("indicator progress: value missing", f"{_PROGRESS}.value", DROP, code="missing"),
    bad("indicator progress: negative women", f"{_PROGRESS}.women", "-5"),
    bad(
        "indicator progress: women and men above the value",
        f"{_PROGRESS}.women",
        "800",
        field=_PROGRESS,
    ),
    bad("indicator progress: a comment with NUL", f"{_PROGRESS}.comment", "ok\x00"),
    bad(
        "indicator progress: reported twice",
        "indicator_progress",
        REPORT_BODY["indicator_progress"] * 2,
        field="indicator_progress.1.code",
    ),
    bad(
        "indicator progress: 401 entries",
        "indicator_progress",
        REPORT_BODY["indicator_progress"] * 401,
    ),
    *unknown_fields("status", "kind", "submitted_at"),
]

REPORT_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a grant's trigger", "trigger", "sign_contract"),
    bad("trigger: missing", "trigger", DROP),
    Bad(
        "request_revision: no reason",
        whole={"trigger": "request_revision"},
        field="reason",
        code="missing",
    ),
    Bad(
        "request_revision: a reason of 100 000 characters",
        whole={"trigger": "request_revision", "reason": "x" * 100_000},
        field="reason",
    ),
    *unknown_fields("status", "approved_at"),
]

PAYMENT_TRANSITION = [
    *shape_cases(),
    *text_cases("comment", one_line=False),
    bad("trigger: unknown", "trigger", "explode"),
    bad("trigger: a report's trigger", "trigger", "approve"),
    bad("trigger: missing", "trigger", DROP),
    bad("paid_on: words", "paid_on", "soon"),
    bad("paid_on: 10**40", "paid_on", 10**40),
    bad("paid_on: missing", "paid_on", DROP, code="missing"),
    *money_cases("amount", full=False),
    bad('amount: "1e400"', "amount", "1e400"),
    Bad("waive: no reason", whole={"trigger": "waive"}, field="reason", code="missing"),
    *unknown_fields("status", "paid_amount"),
]


@dataclass(frozen=True)
class Endpoint:
    name: str
    ok: int  # the status of the valid request, sent after all the bad ones
    cases: list[Bad]
    writes: bool = True  # whether the valid request writes (signing in does not)


ENDPOINTS = [
    Endpoint("register", 201, REGISTER),
    Endpoint("token", 200, TOKEN, writes=False),
    Endpoint("users_create", 201, USERS_CREATE),
    Endpoint("users_patch", 200, USERS_PATCH),
    Endpoint("me_patch", 200, ME_PATCH),
    Endpoint("calls_create", 201, CALLS_CREATE),
    Endpoint("calls_patch", 200, CALLS_PATCH),
    Endpoint("calls_transition", 200, CALLS_TRANSITION),
    Endpoint("proposals_create", 201, PROPOSALS_CREATE),
    Endpoint("proposals_patch", 200, PROPOSALS_PATCH),
    Endpoint("proposals_transition", 200, PROPOSALS_TRANSITION),
    Endpoint("attachments_upload", 201, ATTACHMENTS_UPLOAD),
    Endpoint("screening_put", 200, SCREENING_PUT),
    Endpoint("evaluator_profile_put", 200, EVALUATOR_PROFILE_PUT),
    Endpoint("assignments_create", 201, ASSIGNMENTS_CREATE),
    Endpoint("declaration", 200, DECLARATION),
    Endpoint("assignments_transition", 200, ASSIGNMENTS_TRANSITION),
    Endpoint("evaluation_put", 200, EVALUATION_PUT),
    Endpoint("grants_transition", 200, GRANTS_TRANSITION),
    Endpoint("report_put", 200, REPORT_PUT),
    Endpoint("report_transition", 200, REPORT_TRANSITION),
    Endpoint("report_attachments_upload", 201, ATTACHMENTS_UPLOAD),
    Endpoint("payment_transition", 200, PAYMENT_TRANSITION),
]


def test_case_names_are_unique() -> None:
    for endpoint in ENDPOINTS:
        names = [c.what for c in endpoint.cases]
        duplicates = {n for n in names if names.count(n) > 1}
        assert not duplicates, (endpoint.name, duplicates)


# The endpoints run in a few groups: each group shares one app (a fresh app costs a
# noticeable fraction of a second); each endpoint gets accounts and objects of its own.
GROUPS = {
    "identity": ["register", "token", "users_create", "users_patch", "me_patch"],
    "calls": ["calls_create", "calls_patch", "calls_transition"],
    "proposals": ["proposals_create", "proposals_patch", "proposals_transition",
                  "attachments_upload"],
    "screening and evaluation": ["screening_put", "evaluator_profile_put",
                                 "assignments_create", "declaration", "assignments_transition",
                                 "evaluation_put"],
    "grants": ["grants_transition", "report_put", "report_transition",
               "report_attachments_upload", "payment_transition"],
}  # fmt: skip


def test_every_endpoint_is_in_a_group() -> None:
    grouped = [name for names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(e.name for e in ENDPOINTS)


@pytest.mark.parametrize("group", list(GROUPS))
async def test_malformed_input_is_refused(
    group: str,
    world: World,
    api: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    writes: WriteLog,
) -> None:
    store = app.state.services.settings.attachment_dir
    cases = Cases()
    for endpoint in (e for e in ENDPOINTS if e.name in GROUPS[group]):
        target = await Bench(world, api).target(endpoint.name)
        rows, files = await database_rows(db), stored_files(store)
        writes.take()
        for case in endpoint.cases:
            with cases.case(f"[{endpoint.name}] {case.what}"):
                r = await api.request(target.method, target.url, **target.request_kwargs(case))
                written = writes.take()
                check_refusal(case, r)
                assert not written, f"the refused request committed {written}"
        # Row for row, the database is as before; no file was stored.
        with cases.case(f"[{endpoint.name}] the database after every refusal"):
            assert await database_rows(db) == rows, "the database changed"
            assert stored_files(store) == files, "a file was stored"
        # The unchanged request is accepted: each refusal was down to its one change.
        with cases.case(f"[{endpoint.name}] the valid request"):
            r = await api.request(target.method, target.url, **target.request_kwargs())
            assert r.status_code == endpoint.ok, f"{r.status_code}: {r.text[:300]}"
            if endpoint.writes:
                assert writes.take(), "the valid request wrote nothing: is the write log blind?"
    cases.assert_all_passed()


# --- ids in paths and query parameters -------------------------------------------------------


BAD_IDS = ["not-a-uuid", "%00", f"{uuid.uuid4()}x", "' OR 1=1 --"]
PATH_PARAM = re.compile(r"{(\w+)}")


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD left out)."""
    try:  # FastAPI >= 0.16x keeps included routers as nodes: flatten them
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists routes flat
        routes = app.routes
    return {
        (method, route.path)
        for route in routes
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }


async def test_malformed_ids_in_paths(
    world: World, api: httpx.AsyncClient, db: Database, app: FastAPI, writes: WriteLog
) -> None:
    """Every id in every path, replaced by something that is no UUID: 422 at that parameter.
    Routes with ids that the table misses fail the test."""
    bench = Bench(world, api)
    cases = Cases()
    fm, applicant, admin = await bench.fund_manager(), await bench.applicant(), await bench.admin()
    evaluator = await bench.evaluator()
    # The path is refused before any lookup: the other ids need only be well-formed.
    valid = {name: str(uuid.uuid4()) for name in ("proposal_id", "attachment_id", "report_id")}
    upload = {"data": {"kind": "logframe"}, "files": {"file": _FILE}}
    if_match = {"If-Match": '"v1"'}
    declaration = {"conflict_of_interest": False, "statement": "No conflict."}
    # (method, route, caller, request extras: "h" adds headers)
    routes: list[tuple[str, str, Account | None, dict[str, Any]]] = [
        ("GET", "/api/v1/calls/{call_id}", None, {}),
        ("PATCH", "/api/v1/calls/{call_id}", fm, {"json": {"title": "T"}, "h": if_match}),
        ("POST", "/api/v1/calls/{call_id}/transitions", fm, {"json": {"trigger": "publish"}}),
        ("GET", "/api/v1/calls/{call_id}/history", fm, {}),
        ("POST", "/api/v1/calls/{call_id}/proposals", applicant, {"json": {}}),
        ("POST", "/api/v1/calls/{call_id}/assignments/auto", fm, {}),
        ("GET", "/api/v1/calls/{call_id}/ranking", fm, {}),
        ("POST", "/api/v1/calls/{call_id}/shortlist", fm, {}),
        ("GET", "/api/v1/proposals/{proposal_id}", applicant, {}),
        ("PATCH", "/api/v1/proposals/{proposal_id}", applicant,
         {"json": {"title": "T"}, "h": if_match}),
        ("POST", "/api/v1/proposals/{proposal_id}/transitions", applicant,
         {"json": {"trigger": "submit"}}),
        ("GET", "/api/v1/proposals/{proposal_id}/history", applicant, {}),
        ("GET", "/api/v1/proposals/{proposal_id}/submissions", applicant, {}),
        ("POST", "/api/v1/proposals/{proposal_id}/attachments", applicant, upload),
        ("GET", "/api/v1/proposals/{proposal_id}/attachments/{attachment_id}", applicant, {}),
        ("DELETE", "/api/v1/proposals/{proposal_id}/attachments/{attachment_id}", applicant, {}),
        ("GET", "/api/v1/proposals/{proposal_id}/screening", fm, {}),
        ("PUT", "/api/v1/proposals/{proposal_id}/screening", fm, {"json": {"items": []}}),
        ("GET", "/api/v1/proposals/{proposal_id}/assignments", fm, {}),
        ("POST", "/api/v1/proposals/{proposal_id}/assignments", fm,
         {"json": {"evaluator_id": str(evaluator.id)}}),
        ("GET", "/api/v1/proposals/{proposal_id}/evaluations", fm, {}),
        ("GET", "/api/v1/proposals/{proposal_id}/results", fm, {}),
        ("GET", "/api/v1/assignments/{assignment_id}", evaluator, {}),
        ("POST", "/api/v1/assignments/{assignment_id}/declaration", evaluator,
         {"json": declaration}),
        ("POST", "/api/v1/assignments/{assignment_id}/transitions", fm,
         {"json": {"trigger": "withdraw"}}),
        ("GET", "/api/v1/assignments/{assignment_id}/evaluation", evaluator, {}),
        ("PUT", "/api/v1/assignments/{assignment_id}/evaluation", evaluator, {"json": {}}),
        ("POST", "/api/v1/assignments/{assignment_id}/evaluation/submit", evaluator, {}),
        ("PATCH", "/api/v1/users/{user_id}", admin, {"json": {"is_active": False}}),
        ("POST", "/api/v1/calls/{call_id}/award-plan", fm, {}),
        ("GET", "/api/v1/grants/{grant_id}", applicant, {}),
        ("POST", "/api/v1/grants/{grant_id}/transitions", fm,
         {"json": {"trigger": "sign_contract", "signed_on": "2026-03-02"}}),
        ("GET", "/api/v1/grants/{grant_id}/history", applicant, {}),
        ("GET", "/api/v1/grants/{grant_id}/reports", applicant, {}),
        ("GET", "/api/v1/grants/{grant_id}/payments", applicant, {}),
        ("GET", "/api/v1/reports/{report_id}", applicant, {}),
        ("PUT", "/api/v1/reports/{report_id}", applicant, {"json": REPORT_BODY, "h": if_match}),
        ("GET", "/api/v1/reports/{report_id}/history", applicant, {}),
        ("POST", "/api/v1/reports/{report_id}/transitions", applicant,
         {"json": {"trigger": "submit"}}),
        ("POST", "/api/v1/reports/{report_id}/attachments", applicant, upload),
        ("GET", "/api/v1/reports/{report_id}/attachments/{attachment_id}", applicant, {}),
        ("GET", "/api/v1/payments/{payment_id}", applicant, {}),
        ("GET", "/api/v1/payments/{payment_id}/history", applicant, {}),
        ("POST", "/api/v1/payments/{payment_id}/transitions", fm,
         {"json": {"trigger": "pay", "paid_on": "2026-03-02"}}),
        ("POST", "/api/v1/outbox/{message_id}/retry", admin, {}),
    ]  # fmt: skip
    with_ids = {
        (method, path)
        for method, path in routes_of(app)
        if any(name != "slug" for name in PATH_PARAM.findall(path))
    }
    assert with_ids - {(m, p) for m, p, _, _ in routes} == set(), "routes missing here"
    rows = await database_rows(db)
    writes.take()
    for method, route, caller, extra in routes:
        kwargs = {k: v for k, v in extra.items() if k != "h"}
        headers = {**(caller.headers if caller else {}), **extra.get("h", {})}
        for param in PATH_PARAM.findall(route):
            for bad_id in BAD_IDS:
                url = route.format(**{**valid, param: bad_id})
                with cases.case(f"{method} {url}"):
                    r = await api.request(method, url, headers=headers, **kwargs)
                    written = writes.take()
                    check_refusal(Bad(f"{param} = {bad_id!r}", location="path", field=param), r)
                    assert not written, f"the refused request committed {written}"
    assert await database_rows(db) == rows, "the database changed"
    cases.assert_all_passed()


async def test_malformed_query_parameters(world: World, api: httpx.AsyncClient) -> None:
    bench = Bench(world, api)
    applicant, admin, fm = await bench.applicant(), await bench.admin(), await bench.fund_manager()
    call = await bench.call()
    pagination = [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        (f"limit={10**9}", "limit"),
        (f"limit={10**40}", "limit"),
        ("limit=1e3", "limit"),
        ("limit=ten", "limit"),
        ("cursor=!!!", "cursor"),
        ("cursor=AAAA", "cursor"),  # base64, but not 16 bytes
        ("cursor=" + "A" * 65, "cursor"),
        ("cursor=%00", "cursor"),
    ]
    table: list[tuple[str, Account | None, str, str]] = [
        *[("/api/v1/calls?" + q, None, q, f) for q, f in pagination],
        *[("/api/v1/proposals?" + q, applicant, q, f) for q, f in pagination],
        *[("/api/v1/users?" + q, admin, q, f) for q, f in pagination],
        *[("/api/v1/grants?" + q, applicant, q, f) for q, f in pagination],
        *[("/api/v1/reports?" + q, applicant, q, f) for q, f in pagination],
        *[("/api/v1/outbox?" + q, admin, q, f) for q, f in pagination],
        ("/api/v1/calls?status=nope", None, "unknown status", "status.0"),
        ("/api/v1/calls?status=draft&status=nope", None, "second status unknown", "status.1"),
        ("/api/v1/calls?status=", None, "empty status", "status.0"),
        ("/api/v1/calls?status=pub%00lished", None, "status with NUL", "status.0"),
        ("/api/v1/calls?" + "&".join(["status=draft"] * 11), None, "11 statuses", "status"),
        ("/api/v1/proposals?status=nope", applicant, "unknown status", "status.0"),
        ("/api/v1/proposals?call_id=nope", applicant, "call_id not a UUID", "call_id"),
        ("/api/v1/proposals?call_id=%00", applicant, "call_id NUL", "call_id"),
        ("/api/v1/users?role=superuser", admin, "unknown role", "role"),
        ("/api/v1/users?role=", admin, "empty role", "role"),
        ("/api/v1/grants?status=nope", applicant, "unknown status", "status.0"),
        ("/api/v1/grants?call_id=nope", applicant, "call_id not a UUID", "call_id"),
        ("/api/v1/reports?grant_id=nope", applicant, "grant_id not a UUID", "grant_id"),
        ("/api/v1/reports?overdue=maybe", applicant, "overdue not a boolean", "overdue"),
        ("/api/v1/outbox?status=lost", admin, "unknown status", "status"),
        (f"/api/v1/calls/{call['id']}/ranking?stage=third", fm, "unknown stage", "stage"),
        (f"/api/v1/calls/{call['id']}/ranking?stage=%00", fm, "stage NUL", "stage"),
    ]
    cases = Cases()
    for url, caller, what, field_name in table:
        with cases.case(f"{url.split('?')[0]}: {what}"):
            r = await api.get(url, headers=caller.headers if caller else {})
            check_refusal(Bad(what, location="query", field=field_name), r)
    cases.assert_all_passed()


async def test_an_oversized_json_body_is_413_and_changes_nothing(
    world: World, settings: Settings
) -> None:
    applicant = await world.applicant()
    fm = await world.fund_manager()
    call = await world.call(fm)
    proposal = await world.draft(applicant, call["id"])
    huge = {"title": "x" * settings.request_max_bytes}
    r = await world.client.patch(
        f"/api/v1/proposals/{proposal['id']}",
        json=huge,
        headers={**applicant.headers, "If-Match": f'"v{proposal["version"]}"'},
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/payload-too-large"
    got = await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=applicant.headers)
    assert got.json()["title"] == proposal["title"]


async def test_a_streamed_body_without_length_is_counted_as_it_arrives(
    world: World, settings: Settings
) -> None:
    applicant = await world.applicant()

    async def endless() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(settings.request_max_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    r = await world.client.post(
        "/api/v1/proposals/00000000-0000-0000-0000-000000000000/transitions",
        content=endless(),
        headers={**applicant.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/payload-too-large"
