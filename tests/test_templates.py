"""Every message kind renders in English and Russian: a one-line subject, a plain-text and an
HTML part, and text typed by users escaped in HTML. (No database: plain functions.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from facility.notifications.catalogue import MESSAGE_KINDS
from facility.notifications.render import TEMPLATES_DIR, Renderer

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'

CONTEXT: dict[str, Any] = {
    "recipient_name": f"Нигора {HOSTILE}",
    "kind": "any",
    "event": "any",
    "occurred_at": "2026-03-02T09:00:00+00:00",
    "stage": "full_application",
    "link": "/api/v1/proposals/p1",
    "proposal": {"id": "p1", "reference": "SRF-2026-0007", "title": f"Corridors {HOSTILE}",
                 "stage": "full_application", "status": "x", "requested_amount": "200000.00"},
    "call": {"id": "c1", "reference": "SRF-2026", "title": "Silk Routes Facility",
             "currency": "EUR"},
    "organisation": {"name": f"NGO {HOSTILE}"},
    "assignment": {"id": "a1", "due_at": "2026-03-16T09:00:00+00:00", "is_arbitration": False},
    "grant": {"id": "g1", "reference": "GA-SRF-2026-0007", "title": f"Corridors {HOSTILE}",
              "amount": "190000.00", "currency": "EUR", "status": "active",
              "start_date": "2026-07-01", "end_date": "2027-12-31"},
    "report": {"id": "r1", "kind": "interim", "sequence": 1, "due_on": "2027-08-29",
               "period_end": "2027-06-30"},
    "payment": {"id": "pay1", "kind": "pre_financing", "sequence": 1, "amount": "101333.33",
                "paid_amount": "101333.33", "paid_on": "2026-03-20"},
    "days_left": 3,
    "days_overdue": 8,
    "payload": {
        "reference": "SRF-2026-0007", "submitted_at": "2026-03-02T09:00:00+00:00",
        "content_hash": "ab" * 32, "reasons": [f"Budget {HOSTILE}"],
        "scores": {"sections": {"capacity": "8.00", "relevance": "27.00"}, "total": "88.00",
                   "labels": {"capacity": "Financial and operational capacity"}},
        "full_application_due_at": "2026-04-16T09:00:00+00:00", "amount": "190000.00",
        "grant_reference": "GA-SRF-2026-0007", "acceptance_period_days": 30,
        "divergence": {"spread": "60.00", "limit": "20.00"}, "reason": f"Add {HOSTILE}",
        "paid_on": "2026-03-20", "signed_on": "2026-03-02", "promotion_candidate": "p2",
    },
}  # fmt: skip

# One pinned subject per kind and locale (the rest of each subject is checked by shape).
SUBJECTS = {
    ("proposal_received", "en"): f"Received: SRF-2026-0007 – Corridors {HOSTILE}",
    ("proposal_received", "ru"): f"Получено: SRF-2026-0007 – Corridors {HOSTILE}",
    ("rejected", "en"): "SRF-2026-0007: proposal not selected",
    ("rejected", "ru"): "SRF-2026-0007: заявка не отобрана",
    ("awarded", "en"): "Award: SRF-2026-0007 – EUR 190,000.00",
    ("awarded", "ru"): "Грант: SRF-2026-0007 – EUR 190,000.00",
    ("evaluation_assigned", "en"): "Evaluation assigned: SRF-2026-0007, due 2026-03-16 09:00 UTC",
    ("report_due_soon", "en"): "Due in 3 days: interim report for GA-SRF-2026-0007",
    ("report_due_soon", "ru"): "Срок через 3 дн.: промежуточный отчёт по GA-SRF-2026-0007",
    ("payment_made", "en"): "Payment made: EUR 190,000.00 for GA-SRF-2026-0007",
}

renderer = Renderer(base_url="https://facility.example.org")


@pytest.mark.parametrize("locale", ["en", "ru"])
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_renders_in_both_locales(kind: str, locale: str) -> None:
    for part in ("subject.txt", "body.txt", "body.html"):
        assert (TEMPLATES_DIR / kind / locale / part).is_file(), f"{kind}/{locale}/{part}"
    out = renderer.render(kind, locale, CONTEXT)
    assert out.subject and "\n" not in out.subject and "{{" not in out.subject
    if (kind, locale) in SUBJECTS:
        assert out.subject == SUBJECTS[(kind, locale)]
    has_cyrillic = bool(re.search("[а-яА-Я]", out.subject.replace(HOSTILE, "")))
    assert has_cyrillic == (locale == "ru"), out.subject
    assert out.text.strip() and out.html.strip()
    assert out.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'lang="{locale}"' in out.html
    # Whatever users typed is text in the HTML part, never markup.
    assert "<script>" not in out.html and "<b>bold</b>" not in out.html
    assert "&lt;script&gt;" in out.html
    # The plain-text part says it as typed.
    assert "<script>" in out.text
    assert "https://facility.example.org" in out.text


def test_missing_locale_falls_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "_layout" / "en").mkdir(parents=True)
    (tmp_path / "_layout" / "en" / "layout.txt").write_text("{% block content %}{% endblock %}")
    (tmp_path / "_layout" / "en" / "layout.html").write_text("{% block content %}{% endblock %}")
    (tmp_path / "hello" / "en").mkdir(parents=True)
    (tmp_path / "hello" / "en" / "subject.txt").write_text("Hello\n  {{ who }}\n")
    (tmp_path / "hello" / "en" / "body.txt").write_text(
        "{% extends layout %}{% block content %}Hi {{ who }}{% endblock %}"
    )
    (tmp_path / "hello" / "en" / "body.html").write_text(
        "{% extends layout %}{% block content %}Hi {{ who }}{% endblock %}"
    )
    out = Renderer(root=tmp_path).render("hello", "ru", {"who": "<you>"})
    assert out.subject == "Hello <you>"  # folded to one line
    assert out.text == "Hi <you>"
    assert out.html == "Hi &lt;you&gt;"


def test_a_missing_variable_is_an_error_not_a_blank() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        renderer.render("awarded", "en", {**CONTEXT, "call": {}})


@pytest.mark.parametrize("locale", ["en", "ru"])
@pytest.mark.parametrize("kind", ["rejected", "not_shortlisted"])
def test_a_score_rejection_lists_each_failure_on_its_own_line(kind: str, locale: str) -> None:
    failures = [
        {"kind": "section", "label": "Relevance", "score": "12.00", "threshold": "15.00"},
        {"kind": "total", "total": "58.00", "pass_mark": "65.00"},
    ]
    context = {**CONTEXT, "payload": {**CONTEXT["payload"], "failures": failures}}
    lines = renderer.render(kind, locale, context).text.splitlines()
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == 4, lines  # two failures, two sections
    assert "12.00" in items[0] and "15.00" in items[0] and "58.00" not in items[0]
    assert "58.00" in items[1] and "65.00" in items[1]
    # The score table stands apart from the reasons, after a blank line.
    heading = lines.index("- Financial and operational capacity: 8.00") - 1
    assert lines[heading].endswith(":") and lines[heading - 1] == "", lines
