"""The ``facility`` command: database migrations, demo data, accounts, the server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from pydantic import ValidationError

from facility.clock import SystemClock
from facility.db.engine import Database
from facility.domain import check_domain_wiring
from facility.identity.models import Role
from facility.identity.passwords import Passwords
from facility.settings import PROJECT_ROOT, Settings, get_settings

app = typer.Typer(help="The facility engine.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
workflows_app = typer.Typer(help="Workflow definitions.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(workflows_app, name="workflows")


def _settings() -> Settings:
    """The settings, or a one-line explanation and exit code 2 when they are not valid."""
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            typer.echo(f"configuration error ({where}): {err['msg']}", err=True)
        raise typer.Exit(2) from exc


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "facility" / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def _prepare_sqlite_dir(settings: Settings) -> None:
    if settings.is_sqlite and ":///" in settings.database_url:
        path = settings.database_url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (to the latest by default)."""
    settings = _settings()
    _prepare_sqlite_dir(settings)
    command.upgrade(alembic_config(settings), revision)
    typer.echo(f"database at {revision}")


@demo_app.command("seed")
def demo_seed() -> None:
    """Create the Silk Routes demo call and one account per role (once)."""
    from facility.demo import DEMO_CALL_REFERENCE, seed

    settings = _settings()
    check_domain_wiring()

    async def run() -> dict[str, str]:
        db = Database(settings)
        try:
            async with db.unit_of_work() as session:
                return await seed(session, Passwords(settings), SystemClock())
        finally:
            await db.dispose()

    created = asyncio.run(run())
    if created:
        typer.echo("Demo accounts created. These passwords are shown once; keep them:")
        for email, password in created.items():
            typer.echo(f"  {email:<36} {password}")
    else:
        typer.echo("Demo accounts already exist (passwords were shown when they were created).")
    typer.echo(f"Demo call {DEMO_CALL_REFERENCE} is in place.")


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="evaluator, fund_manager or admin")],
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted")] = None,
    full_name: Annotated[
        str | None, typer.Option(help="Defaults to the email's local part")
    ] = None,
    language: Annotated[str, typer.Option(help="en or ru")] = "en",
) -> None:
    """Create a staff account. Applicants register themselves through the API."""
    from facility.errors import DomainError
    from facility.identity import service

    if role is Role.applicant:
        raise typer.BadParameter(
            "applicants register with POST /api/v1/auth/register", param_hint="--role"
        )
    if language not in ("en", "ru"):
        raise typer.BadParameter("en or ru", param_hint="--language")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    check_domain_wiring()

    async def run() -> None:
        db = Database(settings)
        try:
            async with db.unit_of_work() as session:
                await service.create_staff_user(
                    session, Passwords(settings), email=email, password=password,
                    full_name=full_name or email.split("@")[0], role=role,
                    preferred_language=language, now=SystemClock().now(),
                )  # fmt: skip
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        for err in getattr(exc, "errors", []):
            typer.echo(f"  {'.'.join(map(str, err.loc))}: {err.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {role.value} {email.strip().lower()}")


@workflows_app.command("describe")
def workflows_describe() -> None:
    """Print the workflows as Markdown (the source of docs/workflows.md)."""
    from workflows.describe import markdown
    from workflows.registry import ENGINES

    typer.echo(markdown([e.workflow for e in ENGINES.values()]), nl=False)


@app.command("worker")
def worker(
    once: Annotated[
        bool, typer.Option(help="Deliver what is due, run the scheduler, exit")
    ] = False,
) -> None:
    """Deliver outbox messages and run the reminder and timer scheduler (until stopped).
    Several workers may run on PostgreSQL; on SQLite run one."""
    import signal

    from facility.notifications import scheduler
    from facility.notifications.mail import transport_for
    from facility.notifications.worker import Worker, run_forever

    settings = _settings()
    check_domain_wiring()

    async def run() -> None:
        db = Database(settings)
        clock = SystemClock()
        delivery = Worker(db, settings, clock, transport_for(settings))
        try:
            if once:
                await scheduler.tick(db, clock)
                outcome = await delivery.drain()
                typer.echo(f"delivered: {outcome or 'nothing due'}")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            typer.echo(f"worker {delivery.name} running; Ctrl-C stops it")

            async def tick() -> None:
                await scheduler.tick(db, clock)

            await run_forever(delivery, tick, stop, settings)
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Processes (PostgreSQL only)")] = 1,
) -> None:
    """Serve the API (OpenAPI UI at /docs)."""
    import uvicorn

    settings = _settings()  # fail fast on bad settings (e.g. the default secret key)
    if workers > 1 and settings.is_sqlite:
        raise typer.BadParameter("several workers need PostgreSQL", param_hint="--workers")
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
