"""Render a message from ``email_templates/<kind>/<locale>/{subject.txt,body.txt,body.html}``.

English is the fallback for a missing locale or part. HTML parts are autoescaped (text an
applicant typed arrives as text, never as markup); plain-text parts are not escaped, since
nothing interprets them. Subjects are folded to one line (no header injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from facility.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "email_templates"
FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def money(value: Any, currency: str | None = None) -> str:
    """1234567.5 → '1,234,567.50' (with the currency code in front when given)."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{amount:,.2f}"
    return f"{currency} {text}" if currency else text


def when(value: Any) -> str:
    """An ISO time as '2026-03-02 09:00 UTC', an ISO date as '2026-03-02'."""
    if value is None:
        return ""
    text = str(value)
    try:
        if "T" in text:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime(
                "%Y-%m-%d %H:%M UTC"
            )
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return text


class Renderer:
    def __init__(self, root: Path = TEMPLATES_DIR, base_url: str = "") -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.env = Environment(
            loader=FileSystemLoader(root),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = money
        self.env.filters["when"] = when

    def _template_name(self, kind: str, locale: str, part: str) -> str:
        for candidate in (locale, FALLBACK_LOCALE):
            name = f"{kind}/{candidate}/{part}"
            if (self.root / name).is_file():
                return name
        raise TemplateNotFound(f"{kind}/{FALLBACK_LOCALE}/{part}")

    def _layout(self, locale: str, part: str) -> str:
        return self._template_name("_layout", locale, part)

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        ctx = {
            **context,
            "locale": locale,
            "base_url": self.base_url,
            "url": self.base_url + str(context.get("link", "")),
        }
        subject = self.env.get_template(self._template_name(kind, locale, "subject.txt")).render(
            ctx
        )
        text = self.env.get_template(self._template_name(kind, locale, "body.txt")).render(
            {**ctx, "layout": self._layout(locale, "layout.txt")}
        )
        html = self.env.get_template(self._template_name(kind, locale, "body.html")).render(
            {**ctx, "layout": self._layout(locale, "layout.html")}
        )
        return Rendered(re.sub(r"\s+", " ", subject).strip(), text, html)
