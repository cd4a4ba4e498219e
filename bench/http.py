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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    base = os.environ.get(
        "FACILITY_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    name = f"facility_bench_{uuid.uuid4().hex[:8]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


@contextlib.asynccontextmanager
async def server(url: str, workers: int) -> AsyncIterator[str]:
    port = _port()
    env = {**os.environ, "FACILITY_ENV": "dev", "FACILITY_DATABASE_URL": url,
           "FACILITY_WORKER_IN_PROCESS": "false", "FACILITY_DB_POOL_SIZE": "16",
           "FACILITY_ATTACHMENT_DIR": tempfile.mkdtemp(), "FACILITY_ARGON2_TIME_COST": "1",
           "FACILITY_ARGON2_MEMORY_KIB": "8192"}  # fmt: skip
    facility = [sys.executable, "-m", "facility.cli"]
    subprocess.run([*facility, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    seeded = subprocess.run([*facility, "demo", "seed"], env=env, check=True, capture_output=True,
                            text=True, cwd=ROOT)  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"], env=env, cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not start")
        os.environ["BENCH_SEED_OUTPUT"] = seeded.stdout
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


async def scenarios(backend: str, *, concurrency: int, seconds: float) -> list[Result]:
    results = []
    async with database(backend) as url, server(url, workers=1) as base:
        api = f"{base}/api/v1"
        async with httpx.AsyncClient(timeout=30) as client:
            call = (await client.get(f"{api}/calls")).json()["items"][0]
            tokens = []
            for i in range(concurrency):
                body = {"email": f"bench{i}@example.org", "password": "bench password 123",
                        "full_name": f"Bench {i}", "organisation": {"name": f"Org {i}",
                        "iati_type": 22, "country": "KG", "registration_number": f"B-{i}"}}  # fmt: skip
                assert (await client.post(f"{api}/auth/register", json=body)).status_code == 201
                token = (await client.post(f"{api}/auth/token", data={
                    "username": body["email"], "password": body["password"]})).json()["access_token"]  # fmt: skip
                tokens.append({"Authorization": f"Bearer {token}"})
            proposal = (await client.post(f"{api}/calls/{call['id']}/proposals",
                                          json={"title": "Bench"}, headers=tokens[0])).json()  # fmt: skip

        async def read_call(c: httpx.AsyncClient, n: int) -> httpx.Response:
            return await c.get(f"{api}/calls/{call['id']}")

        async def read_proposal(c: httpx.AsyncClient, n: int) -> httpx.Response:
            return await c.get(f"{api}/proposals/{proposal['id']}", headers=tokens[0])

        async def create_draft(c: httpx.AsyncClient, n: int) -> httpx.Response:
            return await c.post(f"{api}/calls/{call['id']}/proposals",
                                json={"title": f"Draft {n}", "duration_months": 12},
                                headers=tokens[n % len(tokens)])  # fmt: skip

        results.append(await load("GET a call (public)", backend, read_call,
                                  concurrency=concurrency, seconds=seconds))  # fmt: skip
        results.append(await load("GET a proposal (authenticated)", backend, read_proposal,
                                  concurrency=concurrency, seconds=seconds))  # fmt: skip
        results.append(await load("POST a draft proposal", backend, create_draft,
                                  concurrency=concurrency, seconds=seconds))  # fmt: skip
    return results


def run(backends: list[str], *, concurrency: int = 32, seconds: float = 10.0) -> list[Result]:
    out: list[Result] = []
    for backend in backends:
        out += asyncio.run(scenarios(backend, concurrency=concurrency, seconds=seconds))
    return out
