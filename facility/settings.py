"""Runtime configuration, read from the environment (prefix ``FACILITY_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Anyone can read this value in the source: it is only acceptable for local development.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0000"  # noqa: S105 (refused in production)


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class SmtpTls(StrEnum):
    none = "none"  # plain SMTP (a local relay)
    starttls = "starttls"  # upgrade on port 587
    implicit = "implicit"  # TLS from the first byte, port 465


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACILITY_", env_file=".env", extra="ignore")

    env: Environment = Environment.production
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'facility.db'}"
    # PostgreSQL pool: sized to the expected concurrency, no overflow churn (bench/ceiling).
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    db_pool_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0)] = 30_000

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    access_token_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 60
    # Argon2id cost (RFC 9106 second recommendation by default).
    argon2_time_cost: Annotated[int, Field(ge=1, le=10)] = 3
    argon2_memory_kib: Annotated[int, Field(ge=8 * 1024, le=1024 * 1024)] = 64 * 1024

    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.starttls
    # A CA bundle for a relay whose certificate a private CA signed (system CAs otherwise).
    smtp_ca_file: Path | None = None
    smtp_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    mail_from: str = "Silk Routes Facility <no-reply@facility.localhost>"
    mail_dir: Path = PROJECT_ROOT / "var" / "mail"

    public_base_url: str = "http://127.0.0.1:8000"

    # Delivery worker: `make run` runs it inside the API process; with several API processes
    # on PostgreSQL each may run one (they share the queue), or run `facility worker` apart.
    worker_in_process: bool = True
    worker_poll_s: Annotated[float, Field(gt=0, le=300)] = 2.0
    scheduler_interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    outbox_max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    outbox_backoff_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # A claimed message not marked sent within this time is claimed again (crashed worker).
    outbox_lease_s: Annotated[float, Field(gt=0, le=86400)] = 600.0

    attachment_dir: Path = PROJECT_ROOT / "var" / "attachments"
    attachment_max_bytes: Annotated[int, Field(ge=1024, le=1024**3)] = 20 * 1024 * 1024
    # Every other request body (JSON): far above any real form, far below a memory problem.
    request_max_bytes: Annotated[int, Field(ge=1024, le=64 * 1024**2)] = 1024 * 1024

    page_size_default: Annotated[int, Field(ge=1, le=500)] = 20
    page_size_max: Annotated[int, Field(ge=1, le=500)] = 100

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        key = self.secret_key.get_secret_value()
        if self.env is Environment.production:
            if key == DEV_SECRET_KEY:
                raise ValueError(
                    "FACILITY_SECRET_KEY is the built-in development key; set a secret "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`) "
                    "or run with FACILITY_ENV=dev"
                )
            if len(key) < 32:
                raise ValueError("FACILITY_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
