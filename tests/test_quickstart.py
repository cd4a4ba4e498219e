"""The quick start: from an empty database, the CLI migrates, seeds (twice, harmlessly) and the
app serves the demo call; the migrations match the models exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, make_url
from typer.testing import CliRunner

from api.app import create_app
from facility.calls.models import Call
from facility.cli import alembic_config
from facility.cli import app as cli
from facility.db.engine import Database
from facility.demo import DEMO_ACCOUNTS, DEMO_CALL_REFERENCE
from facility.identity.models import User
from facility.models import Base
from facility.settings import DEV_SECRET_KEY, Settings, get_settings
from tests.conftest import PG_URL, MigratedDatabase, _pg_admin, base_settings


@pytest.fixture
def empty_database(migrated: MigratedDatabase, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on the backend under test."""
    if migrated.backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    assert PG_URL is not None
    name = f"facility_fresh_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _cli_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "FACILITY_ENV": "dev",
        "FACILITY_DATABASE_URL": url,
        "FACILITY_ATTACHMENT_DIR": str(tmp_path / "files"),
        "FACILITY_ARGON2_TIME_COST": "1",
        "FACILITY_ARGON2_MEMORY_KIB": "8192",
    }


def test_cli_migrates_seeds_twice_and_app_serves_demo(
    empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _cli_env(empty_database, tmp_path).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        upgraded = runner.invoke(cli, ["db", "upgrade"])
        assert upgraded.exit_code == 0, upgraded.output
        first = runner.invoke(cli, ["demo", "seed"])
        assert first.exit_code == 0, first.output
        second = runner.invoke(cli, ["demo", "seed"])
        assert second.exit_code == 0, second.output
    finally:
        get_settings.cache_clear()

    # Passwords are printed once, when the accounts are created, and never again.
    for account in DEMO_ACCOUNTS:
        assert account.email in first.output
        assert account.email not in second.output
    assert "already exist" in second.output

    async def check() -> None:
        settings = base_settings(empty_database, tmp_path)
        db = Database(settings)
        async with db.unit_of_work(write=False) as session:
            users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
            calls = (await session.execute(select(func.count()).select_from(Call))).scalar_one()
        await db.dispose()
        assert (users, calls) == (len(DEMO_ACCOUNTS), 1)

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/health")).status_code == 200
                listed = (await client.get("/api/v1/calls")).json()["items"]
                assert [c["reference"] for c in listed] == [DEMO_CALL_REFERENCE]
                demo = listed[0]
                assert demo["title"] == "Silk Routes Facility – Call for Proposals"
                assert demo["status"] == "published"
                assert demo["stages"] == "two_stage"
                assert demo["budget_envelope"] == "1500000.00"
                assert (demo["min_grant"], demo["max_grant"]) == ("150000.00", "250000.00")
                assert (demo["min_duration_months"], demo["max_duration_months"]) == (6, 18)
                assert len(demo["eligible_countries"]) == 10
                assert len(demo["priorities"]) == 6
                assert demo["concept_note_grid"]["max_points"] == "50"
                assert demo["evaluation_grid"]["max_points"] == "100"
                assert demo["accepting_submissions"] is True
                docs = await client.get("/docs")
                assert docs.status_code == 200

    asyncio.run(check())


def test_migrations_match_models_and_downgrade(empty_database: str, tmp_path: Path) -> None:
    config = alembic_config(base_settings(empty_database, tmp_path))
    command.upgrade(config, "head")

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def compare() -> list[object]:
        db = Database(base_settings(empty_database, tmp_path))
        async with db.write_engine.connect() as conn:
            result = await conn.run_sync(diff)
        await db.dispose()
        return result

    assert asyncio.run(compare()) == []
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_production_refuses_the_default_secret_key() -> None:
    with pytest.raises(ValueError, match="development key"):
        Settings(env="production", secret_key=DEV_SECRET_KEY)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(env="production", secret_key="short")
    Settings(env="dev", secret_key=DEV_SECRET_KEY)  # allowed for local development


def test_serve_refuses_to_start_with_the_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACILITY_ENV", "production")
    monkeypatch.delenv("FACILITY_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "FACILITY_SECRET_KEY" in result.output


def test_cli_creates_staff_accounts(
    empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in _cli_env(empty_database, tmp_path).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
        made = runner.invoke(
            cli, ["users", "create", "Eva@Example.org", "--role", "evaluator"],
            input="a long enough password\na long enough password\n",
        )  # fmt: skip
        assert made.exit_code == 0, made.output
        assert "created evaluator eva@example.org" in made.output
        again = runner.invoke(
            cli, ["users", "create", "eva@example.org", "--role", "admin", "--password",
                  "another long password"],
        )  # fmt: skip
        assert again.exit_code == 1
        assert "already exists" in again.output
        weak = runner.invoke(
            cli, ["users", "create", "x@example.org", "--role", "admin", "--password", "short"]
        )
        assert weak.exit_code == 1
        assert "password" in weak.output
        applicant = runner.invoke(
            cli, ["users", "create", "y@example.org", "--role", "applicant", "--password", "x" * 12]
        )
        assert applicant.exit_code == 2
    finally:
        get_settings.cache_clear()
