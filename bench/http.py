"""The service over real HTTP: uvicorn in a subprocess, a concurrent client in this one.

Each backend gets a fresh database (migrated), one published call and applicants with
tokens; then each scenario runs for a fixed time at a fixed concurrency. The client is
Python (httpx) on the same two cores, so these are the numbers of the whole system on one
machine, not the server's ceiling (compare ../shared/bench/ceiling, measured with wrk).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Result:
    scenario: str
    backend: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    def line(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        return (f"| {self.scenario} | {self.backend} | {self.requests / self.seconds:,.0f} | "
                f"{p50:,.0f} | {p99:,.0f} | {self.errors} |")  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database on ``backend``; dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    base = os.environ.get("FACILITY_BENCH_POSTGRES_URL", DEFAULT_PG)
    name = f"facility_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def server(url: str, workers: int) -> Iterator[str]:
    """Migrate, seed and serve ``url`` with uvicorn in a subprocess; yields the base URL."""
    port = _port()
    env = {
        **os.environ,
        "FACILITY_ENV": "dev",
        "FACILITY_DATABASE_URL": url,
        "FACILITY_WORKER_IN_PROCESS": "false",
        "FACILITY_DB_POOL_SIZE": "16",
        "FACILITY_ATTACHMENT_DIR": tempfile.mkdtemp(),
        "FACILITY_ARGON2_TIME_COST": "1",
        "FACILITY_ARGON2_MEMORY_KIB": "8192",
    }
    facility = [sys.executable, "-m", "facility.cli"]
    subprocess.run([*facility, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*facility, "demo", "seed"], env=env, check=True, capture_output=True, cwd=ROOT)
    uvicorn = [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(uvicorn, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def load(
    name: str, backend: str, request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *, concurrency: int, seconds: float,
) -> Result:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            response = await request(client, next(counter))
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Result(name, backend, len(latencies), errors, elapsed, latencies)


async def _accounts(api: str, how_many: int) -> tuple[dict[str, Any], list[dict[str, str]]]:
    async with httpx.AsyncClient(timeout=30) as client:
        call = (await client.get(f"{api}/calls")).json()["items"][0]
        tokens = []
        for i in range(how_many):
            email, password = f"bench{i}@example.org", "bench password 123"
            org = {"name": f"Org {i}", "iati_type": 22, "country": "KG",
                   "registration_number": f"B-{i}"}  # fmt: skip
            body = {"email": email, "password": password, "full_name": f"Bench {i}",
                    "organisation": org}  # fmt: skip
            assert (await client.post(f"{api}/auth/register", json=body)).status_code == 201
            form = {"username": email, "password": password}
            token = (await client.post(f"{api}/auth/token", data=form)).json()["access_token"]
            tokens.append({"Authorization": f"Bearer {token}"})
    return call, tokens


async def scenarios(base: str, backend: str, *, concurrency: int, seconds: float) -> list[Result]:
    api = f"{base}/api/v1"
    call, tokens = await _accounts(api, concurrency)
    async with httpx.AsyncClient(timeout=30) as client:
        created = await client.post(
            f"{api}/calls/{call['id']}/proposals", json={"title": "Bench"}, headers=tokens[0]
        )
        proposal = created.json()

    async def read_call(c: httpx.AsyncClient, n: int) -> httpx.Response:
        return await c.get(f"{api}/calls/{call['id']}")

    async def read_proposal(c: httpx.AsyncClient, n: int) -> httpx.Response:
        return await c.get(f"{api}/proposals/{proposal['id']}", headers=tokens[0])

    async def create_draft(c: httpx.AsyncClient, n: int) -> httpx.Response:
        body = {"title": f"Draft {n}", "duration_months": 12}
        url = f"{api}/calls/{call['id']}/proposals"
        return await c.post(url, json=body, headers=tokens[n % len(tokens)])

    results = []
    for name, request in (
        ("GET a call (public)", read_call),
        ("GET a proposal (authenticated)", read_proposal),
        ("POST a draft proposal", create_draft),
    ):
        results.append(await load(name, backend, request, concurrency=concurrency, seconds=seconds))
    return results


def run(backends: list[str], *, concurrency: int = 32, seconds: float = 10.0) -> list[Result]:
    out: list[Result] = []
    for backend in backends:
        with database(backend) as url, server(url, workers=1) as base:
            out += asyncio.run(scenarios(base, backend, concurrency=concurrency, seconds=seconds))
    return out
