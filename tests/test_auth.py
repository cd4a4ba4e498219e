"""Identity: registration, the token endpoint, bearer tokens, /me and the admin's user
management. Every response in this module is checked for leaked passwords or hashes."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from facility.clock import FrozenClock
from facility.settings import Settings
from tests.factories import PASSWORD, World

STRONG = "violet-anchor-4417-meadow"
OTHER_STRONG = "quartz-harbour-9031-lantern"
WEAK_SHORT = "Qz7!vbn"  # 7 characters
# Every password sent in this module; none may ever come back in a response body.
SECRETS = (PASSWORD, STRONG, OTHER_STRONG, WEAK_SHORT, "staff-pass-8812-orchard")


@pytest.fixture(autouse=True)
async def _no_secret_in_responses(client: httpx.AsyncClient) -> AsyncIterator[None]:
    async def check(response: httpx.Response) -> None:
        await response.aread()
        text = response.text
        for secret in SECRETS:
            assert secret not in text, f"{response.request.url} leaks a password"
        assert "$argon2" not in text, f"{response.request.url} leaks a password hash"
        assert "password_hash" not in text

    client.event_hooks["response"].append(check)
    yield
    client.event_hooks["response"].remove(check)


_org_seq = iter(range(1, 1_000_000))


def registration(email: str, password: str = STRONG, **organisation: Any) -> dict[str, Any]:
    n = next(_org_seq)
    org = {
        "name": f"Auth Test Org {n}",
        "iati_type": 22,
        "country": "KG",
        "registration_number": f"AUTH-{n}",
    }
    org.update(organisation)
    return {
        "email": email,
        "password": password,
        "full_name": "Aigerim Test",
        "preferred_language": "ru",
        "organisation": org,
    }


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


async def bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await login(client, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}


def assert_unauthenticated(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == 401
    assert body["type"] == "/problems/unauthenticated"
    return body


# --- registration -----------------------------------------------------------------------


async def test_register_returns_user_with_organisation(client: httpx.AsyncClient) -> None:
    body = registration("Founder@Example.org", registration_number="KG-555", country="TJ")
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "founder@example.org"  # stored normalised
    assert user["role"] == "applicant"
    assert user["is_active"] is True
    assert user["preferred_language"] == "ru"
    assert user["full_name"] == "Aigerim Test"
    org = user["organisation"]
    assert uuid.UUID(org["id"])
    assert org["country"] == "TJ"
    assert org["registration_number"] == "KG-555"
    assert org["iati_type"] == 22
    assert org["name"] == body["organisation"]["name"]
    assert "password" not in user

    # The new account can sign in at once, with the email in any case.
    headers = await bearer(client, "FOUNDER@example.ORG", STRONG)
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert me.json()["organisation"]["id"] == org["id"]


async def test_email_is_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/register", json=registration("a@x.org"))
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/register", json=registration("A@x.org"))
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    r = await client.post("/api/v1/auth/register", json=registration("  A@X.ORG "))
    assert r.status_code == 409, r.text


async def test_staff_email_clashing_with_applicant_is_409(world: World) -> None:
    admin = await world.admin()
    r = await world.client.post("/api/v1/auth/register", json=registration("clash@x.org"))
    assert r.status_code == 201
    r = await world.client.post(
        "/api/v1/users",
        json={"email": "Clash@X.org", "password": STRONG, "full_name": "S", "role": "evaluator"},
        headers=admin.headers,
    )
    assert r.status_code == 409, r.text


async def test_organisation_registered_twice_is_409(client: httpx.AsyncClient) -> None:
    first = registration("first@x.org", country="KZ", registration_number="BIN-1")
    assert (await client.post("/api/v1/auth/register", json=first)).status_code == 201

    again = registration("second@x.org", country="KZ", registration_number="BIN-1")
    r = await client.post("/api/v1/auth/register", json=again)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    # Nothing of the refused registration was kept: its user cannot sign in...
    assert_unauthenticated(await login(client, "second@x.org", STRONG))
    # ...and the email is still free.
    retry = registration("second@x.org", country="KZ", registration_number="BIN-2")
    assert (await client.post("/api/v1/auth/register", json=retry)).status_code == 201

    # A registration number identifies an organisation within its country only.
    elsewhere = registration("third@x.org", country="UZ", registration_number="BIN-1")
    assert (await client.post("/api/v1/auth/register", json=elsewhere)).status_code == 201


async def test_concurrent_registrations_of_one_organisation(client: httpx.AsyncClient) -> None:
    bodies = [
        registration(f"racer{i}@x.org", country="TM", registration_number="RACE-1")
        for i in range(2)
    ]
    results = await asyncio.gather(*(client.post("/api/v1/auth/register", json=b) for b in bodies))
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("weak1@x.org", WEAK_SHORT),
        ("weak2@x.org", "eleven-char"),  # 11 characters
        ("weak3@x.org", "my weak3@x.org is long"),  # contains the email
        ("Weak4@X.org", "prefix-WEAK4@x.ORG-suffix"),  # ... in another case
    ],
)
async def test_weak_password_is_422_on_password(
    client: httpx.AsyncClient, email: str, password: str
) -> None:
    r = await client.post("/api/v1/auth/register", json=registration(email, password))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["type"] == "/problems/validation-error"
    assert fields(problem) == {"password"}
    assert password not in r.text
    # Nothing was created.
    assert_unauthenticated(await login(client, email, password))


async def test_twelve_character_password_is_enough(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/register", json=registration("ok12@x.org", "a1b2c3d4e5f6"))
    assert r.status_code == 201, r.text


# --- token endpoint and bearer tokens ---------------------------------------------------


async def test_token_endpoint_issues_usable_bearer_token(world: World, settings: Settings) -> None:
    applicant = await world.applicant()
    r = await login(world.client, applicant.email, PASSWORD)
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert set(body) == {"access_token", "token_type", "expires_in"}

    me = await world.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(applicant.id)
    assert me.json()["email"] == applicant.email


async def test_token_endpoint_wants_a_form(world: World) -> None:
    applicant = await world.applicant()
    r = await world.client.post(
        "/api/v1/auth/token", json={"username": applicant.email, "password": PASSWORD}
    )
    assert r.status_code == 422, r.text


async def test_wrong_password_and_unknown_email_look_the_same(world: World) -> None:
    applicant = await world.applicant()
    wrong = await login(world.client, applicant.email, "not-the-password-at-all")
    unknown = await login(world.client, "nobody-here@example.org", PASSWORD)
    empty = await login(world.client, applicant.email, "")
    assert_unauthenticated(wrong)
    assert_unauthenticated(unknown)
    assert wrong.json() == unknown.json()  # same type, title, detail and instance
    if empty.status_code == 401:  # (or a 422 for the missing field: both fine)
        assert empty.json() == wrong.json()
    else:
        assert empty.status_code == 422


async def test_overlong_credentials_are_refused_alike(world: World) -> None:
    applicant = await world.applicant()
    reference = await login(world.client, applicant.email, "not-the-password-at-all")
    huge = await login(world.client, applicant.email, "x" * 10_000)
    assert_unauthenticated(huge)
    assert huge.json() == reference.json()


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get("/api/v1/me"))
    assert_unauthenticated(
        await client.get("/api/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    )


async def test_deactivated_user_loses_token_and_login(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    headers = await bearer(world.client, applicant.email, PASSWORD)
    assert (await world.client.get("/api/v1/me", headers=headers)).status_code == 200
    wrong_password = await login(world.client, applicant.email, "not-the-password-at-all")

    r = await world.client.patch(
        f"/api/v1/users/{applicant.id}", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["is_active"] is False

    assert_unauthenticated(await world.client.get("/api/v1/me", headers=headers))
    assert_unauthenticated(await world.client.get("/api/v1/me", headers=applicant.headers))
    refused = await login(world.client, applicant.email, PASSWORD)
    assert_unauthenticated(refused)
    # Same answer as a wrong password: a deactivated account is not revealed.
    assert refused.json() == wrong_password.json()

    # Reactivated, it works again.
    r = await world.client.patch(
        f"/api/v1/users/{applicant.id}", json={"is_active": True}, headers=admin.headers
    )
    assert r.status_code == 200
    headers = await bearer(world.client, applicant.email, PASSWORD)
    assert (await world.client.get("/api/v1/me", headers=headers)).status_code == 200


async def test_token_expires_with_the_clock(
    world: World, clock: FrozenClock, settings: Settings
) -> None:
    applicant = await world.applicant()
    headers = await bearer(world.client, applicant.email, PASSWORD)
    lifetime = timedelta(minutes=settings.access_token_minutes)

    clock.advance(lifetime - timedelta(seconds=1))
    assert (await world.client.get("/api/v1/me", headers=headers)).status_code == 200

    clock.advance(seconds=2)
    body = assert_unauthenticated(await world.client.get("/api/v1/me", headers=headers))
    assert "expired" in body["detail"]

    # A fresh login gives a fresh token.
    headers = await bearer(world.client, applicant.email, PASSWORD)
    assert (await world.client.get("/api/v1/me", headers=headers)).status_code == 200


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def test_tampered_and_garbage_tokens_are_401(
    world: World, settings: Settings, clock: FrozenClock
) -> None:
    applicant = await world.applicant()
    admin = await world.admin()
    token = (await login(world.client, applicant.email, PASSWORD)).json()["access_token"]
    header, payload, signature = token.split(".")
    claims = _unb64(payload)
    key = settings.secret_key.get_secret_value()
    now = int(clock.now().timestamp())

    escalated = dict(claims, sub=str(admin.id), role="admin")
    longer = dict(claims, exp=claims["exp"] + 86_400)
    flipped = signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")
    candidates = {
        "payload swapped to the admin": f"{header}.{_b64(escalated)}.{signature}",
        "expiry extended": f"{header}.{_b64(longer)}.{signature}",
        "signature altered": f"{header}.{payload}.{flipped}",
        "signature dropped": f"{header}.{payload}.",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(escalated)}.",
        "other key": jwt.encode(escalated, "another-secret-key-of-enough-length!", "HS256"),
        "wrong audience": jwt.encode(dict(claims, aud="someone-else"), key, "HS256"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, key, "HS256"),
        "unknown user": jwt.encode(dict(claims, sub=str(uuid.uuid4())), key, "HS256"),
        "sub not a uuid": jwt.encode(dict(claims, sub="admin"), key, "HS256"),
        "expired long ago": jwt.encode(dict(claims, exp=now - 10), key, "HS256"),
        "garbage": "not-a-token",
        "three garbage parts": "a.b.c",
        "non-ascii": "tökén.ñ.ü",
        "huge": "A" * 8_000,
    }
    for label, candidate in candidates.items():
        raw = f"Bearer {candidate}".encode()  # bytes: lets non-ASCII through
        r = await world.client.get("/api/v1/me", headers={b"Authorization": raw})
        assert r.status_code == 401, (label, r.status_code, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer", label

    # The genuine token still works.
    r = await world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


# --- /me --------------------------------------------------------------------------------


async def test_patch_me_changes_language_and_name(world: World) -> None:
    applicant = await world.applicant()
    r = await world.client.patch(
        "/api/v1/me",
        json={"preferred_language": "ru", "full_name": "  Гульнара Асанова  "},
        headers=applicant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["preferred_language"] == "ru"
    assert r.json()["full_name"] == "Гульнара Асанова"

    me = (await world.client.get("/api/v1/me", headers=applicant.headers)).json()
    assert me["preferred_language"] == "ru"
    assert me["full_name"] == "Гульнара Асанова"
    assert me["role"] == "applicant"
    assert me["email"] == applicant.email

    r = await world.client.patch(
        "/api/v1/me", json={"preferred_language": "en"}, headers=applicant.headers
    )
    assert r.status_code == 200
    assert r.json()["preferred_language"] == "en"
    assert r.json()["full_name"] == "Гульнара Асанова"  # untouched


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"is_active": False},
        {"email": "new@x.org"},
        {"password": STRONG},
        {"organisation_id": str(uuid.UUID(int=1))},
        {"preferred_language": "de"},
        {"full_name": ""},
        {"full_name": "two\nlines"},
        {"full_name": "nul\x00byte"},
    ],
)
async def test_patch_me_refuses_other_fields_and_bad_values(
    world: World, body: dict[str, Any]
) -> None:
    applicant = await world.applicant()
    r = await world.client.patch("/api/v1/me", json=body, headers=applicant.headers)
    assert r.status_code == 422, r.text
    me = (await world.client.get("/api/v1/me", headers=applicant.headers)).json()
    assert me["role"] == "applicant"
    assert me["is_active"] is True
    assert me["email"] == applicant.email
    assert me["preferred_language"] == "en"


async def test_patch_me_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.patch("/api/v1/me", json={"preferred_language": "ru"}))


# --- admin user management --------------------------------------------------------------


@pytest.mark.parametrize("role", ["evaluator", "fund_manager", "admin"])
async def test_admin_creates_staff(world: World, role: str) -> None:
    admin = await world.admin()
    email = f"New.{role}@Example.org"
    r = await world.client.post(
        "/api/v1/users",
        json={
            "email": email,
            "password": "staff-pass-8812-orchard",
            "full_name": f"New {role}",
            "role": role,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["role"] == role
    assert user["email"] == email.lower()
    assert user["organisation"] is None
    assert user["is_active"] is True
    assert user["preferred_language"] == "en"

    headers = await bearer(world.client, email, "staff-pass-8812-orchard")
    me = await world.client.get("/api/v1/me", headers=headers)
    assert me.json()["role"] == role


async def test_admin_cannot_create_applicants(world: World) -> None:
    admin = await world.admin()
    r = await world.client.post(
        "/api/v1/users",
        json={"email": "app@x.org", "password": STRONG, "full_name": "A", "role": "applicant"},
        headers=admin.headers,
    )
    assert r.status_code == 422, r.text
    assert "role" in fields(r.json())
    assert_unauthenticated(await login(world.client, "app@x.org", STRONG))


async def test_staff_creation_checks_password_and_duplicates(world: World) -> None:
    admin = await world.admin()
    body = {"email": "ev@x.org", "password": WEAK_SHORT, "full_name": "E", "role": "evaluator"}
    r = await world.client.post("/api/v1/users", json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert fields(r.json()) == {"password"}

    body["password"] = STRONG
    assert (
        await world.client.post("/api/v1/users", json=body, headers=admin.headers)
    ).status_code == 201
    body["email"] = "EV@x.org"
    body["password"] = OTHER_STRONG
    r = await world.client.post("/api/v1/users", json=body, headers=admin.headers)
    assert r.status_code == 409, r.text


async def test_only_admins_manage_users(world: World) -> None:
    fm = await world.fund_manager()
    evaluator = await world.evaluator()
    applicant = await world.applicant()
    body = {"email": "sneaky@x.org", "password": STRONG, "full_name": "S", "role": "admin"}
    for account in (fm, evaluator, applicant):
        r = await world.client.post("/api/v1/users", json=body, headers=account.headers)
        assert r.status_code == 403, (account.role, r.text)
        r = await world.client.get("/api/v1/users", headers=account.headers)
        assert r.status_code == 403, (account.role, r.text)
        r = await world.client.patch(
            f"/api/v1/users/{fm.id}", json={"is_active": False}, headers=account.headers
        )
        assert r.status_code == 403, (account.role, r.text)
    assert_unauthenticated(await world.client.post("/api/v1/users", json=body))
    assert_unauthenticated(await world.client.get("/api/v1/users"))
    # The fund manager is still active.
    assert (await world.client.get("/api/v1/me", headers=fm.headers)).status_code == 200


async def test_admin_cannot_deactivate_themselves(world: World) -> None:
    admin = await world.admin()
    r = await world.client.patch(
        f"/api/v1/users/{admin.id}", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    me = await world.client.get("/api/v1/me", headers=admin.headers)
    assert me.status_code == 200
    assert me.json()["is_active"] is True


async def test_admin_deactivates_another_admin(world: World) -> None:
    admin = await world.admin()
    other = await world.admin()
    r = await world.client.patch(
        f"/api/v1/users/{other.id}", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert_unauthenticated(await world.client.get("/api/v1/me", headers=other.headers))


async def test_user_status_patch_validation(world: World) -> None:
    admin = await world.admin()
    applicant = await world.applicant()
    r = await world.client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 404, r.text
    for body in ({}, {"is_active": "maybe"}, {"is_active": False, "role": "admin"}):
        r = await world.client.patch(
            f"/api/v1/users/{applicant.id}", json=body, headers=admin.headers
        )
        assert r.status_code == 422, (body, r.text)
    r = await world.client.patch(
        "/api/v1/users/not-a-uuid", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 422
    me = await world.client.get("/api/v1/me", headers=applicant.headers)
    assert me.json()["role"] == "applicant"
    assert me.json()["is_active"] is True


async def test_list_users_paginates_and_filters(world: World) -> None:
    admin = await world.admin()
    evaluators = [await world.evaluator() for _ in range(3)]
    managers = [await world.fund_manager() for _ in range(2)]
    applicants = [await world.applicant() for _ in range(2)]
    everyone = {str(a.id) for a in [admin, *evaluators, *managers, *applicants]}

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        r = await world.client.get("/api/v1/users", params=params, headers=admin.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen.extend(u["id"] for u in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3  # 8 users, 3 a page
    assert len(seen) == len(set(seen))
    assert set(seen) == everyone

    r = await world.client.get("/api/v1/users", params={"role": "evaluator"}, headers=admin.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert {u["id"] for u in items} == {str(e.id) for e in evaluators}
    assert {u["role"] for u in items} == {"evaluator"}
    assert r.json()["next_cursor"] is None

    r = await world.client.get(
        "/api/v1/users", params={"role": "evaluator", "limit": 2}, headers=admin.headers
    )
    first = r.json()
    assert len(first["items"]) == 2
    r = await world.client.get(
        "/api/v1/users",
        params={"role": "evaluator", "limit": 2, "cursor": first["next_cursor"]},
        headers=admin.headers,
    )
    second = r.json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    assert {u["id"] for u in first["items"] + second["items"]} == {str(e.id) for e in evaluators}

    r = await world.client.get("/api/v1/users", params={"role": "applicant"}, headers=admin.headers)
    applicant_rows = r.json()["items"]
    assert {u["id"] for u in applicant_rows} == {str(a.id) for a in applicants}
    assert all(u["organisation"] is not None for u in applicant_rows)

    for bad in ({"role": "superuser"}, {"cursor": "%%%"}, {"limit": 0}, {"limit": 501}):
        r = await world.client.get("/api/v1/users", params=bad, headers=admin.headers)
        assert r.status_code == 422, (bad, r.text)
