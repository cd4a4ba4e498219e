from __future__ import annotations

import httpx

from tests.factories import World


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_submit_happy_path(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    assert proposal["status"] == "submitted"
    assert proposal["receipt"]["reference"] == f"{call['reference']}-0001"
