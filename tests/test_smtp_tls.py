"""Delivery over STARTTLS and implicit TLS, with authentication, to a real SMTP server whose
certificate a throw-away CA signed (the facility is given that CA, as an operator would)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import select

from facility.clock import FrozenClock
from facility.db.engine import Database
from facility.notifications.mail import SmtpTransport
from facility.notifications.models import OutboxMessage
from facility.notifications.worker import Worker
from facility.settings import Settings, SmtpTls
from tests.factories import World
from tests.smtp import Recorder, free_port

USER, PASSWORD = "mailer", "relay secret"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facility test relay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
) -> AuthResult:
    ok = auth.login == USER.encode() and auth.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=["starttls", "implicit"])
def tls_relay(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, int, Recorder]]:
    cert_file, key_file = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    recorder, port = Recorder(), free_port()
    options: dict[str, Any] = {"authenticator": _authenticator, "auth_required": True}
    if request.param == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:  # aiosmtpd only counts STARTTLS as TLS for AUTH; this socket is TLS throughout
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield request.param, port, recorder
    controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_authenticated_delivery_over_tls(
    world: World, db: Database, settings: Settings, clock: FrozenClock,
    certificate: tuple[Path, Path], tls_relay: tuple[str, int, Recorder],
) -> None:  # fmt: skip
    mode, port, recorder = tls_relay
    fm = await world.fund_manager()
    call = await world.call(fm)
    await world.submitted(await world.applicant(), call["id"])
    relay = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": SmtpTls(mode),
                "smtp_user": USER, "smtp_ca_file": certificate[0], "smtp_timeout_s": 5.0}
    )  # fmt: skip
    wrong = relay.model_copy(update={"smtp_password": "not it"})
    refused = Worker(db, wrong, clock, SmtpTransport(wrong), name="wrong")
    assert await refused.drain() == {"dead": 1}  # 535: authentication refused for good
    assert recorder.messages == []

    async with db.unit_of_work() as session:  # an admin retries it, with the right secret
        [row] = (await session.execute(select(OutboxMessage))).scalars()
        row.status, row.attempts = "pending", 0
    good = relay.model_copy(update={"smtp_password": SecretStr(PASSWORD)})
    worker = Worker(db, good, clock, SmtpTransport(good), name="good")
    outcome = await worker.drain()
    async with db.unit_of_work(write=False) as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars()
    assert outcome == {"sent": 1}, row.last_error
    assert len(recorder.messages) == 1
