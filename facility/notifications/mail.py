"""Build a MIME message and hand it to SMTP, or to a folder of .eml files for the demo."""

from __future__ import annotations

import os
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib

from facility.notifications.render import Rendered
from facility.settings import Settings, SmtpTls


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): retrying will not help."""


class TransientFailure(Exception):
    """The server was unreachable or asked us to try later (4xx, timeouts)."""


def message_id_header(token: str, settings: Settings) -> str:
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "facility.localhost"
    return f"<{token}@{domain}>"


def build(
    rendered: Rendered,
    *,
    to_email: str,
    to_name: str | None,
    message_id: str,
    locale: str,
    settings: Settings,
    date: object,
    kind: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    local, _, domain = to_email.rpartition("@")
    msg["To"] = Address(display_name=to_name or "", username=local, domain=domain)
    msg["Subject"] = rendered.subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(date)  # type: ignore[arg-type]
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg["X-Facility-Kind"] = kind  # lets recipients (and their filters) sort what they get
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    msg["Content-Language"] = locale  # after the content: set_content drops Content-* headers
    return msg


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_user,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_tls == SmtpTls.implicit,
                start_tls=s.smtp_tls == SmtpTls.starttls,
                cert_bundle=str(s.smtp_ca_file) if s.smtp_ca_file else None,
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"{exc.code} {exc.message}") from exc
            raise TransientFailure(f"{exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentFailure(str(exc)) from exc
            raise TransientFailure(str(exc)) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from exc


class FolderTransport:
    """With no SMTP host (the demo), complete messages are written as .eml files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = str(message["Message-ID"]).strip("<>").replace("/", "_")
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(message.as_bytes())
        os.replace(tmp, self.folder / f"{token}.eml")


def transport_for(settings: Settings) -> Transport:
    return SmtpTransport(settings) if settings.smtp_host else FolderTransport(settings.mail_dir)
