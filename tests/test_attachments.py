"""Attachments: type checked by name and content, size limit, safe names, content-addressed
storage, download headers, access by role and organisation, and locking at submission."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from facility.clock import FrozenClock
from facility.settings import Settings
from tests.factories import PDF, Account, World, office_file

MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
PDF_2 = PDF + b"% second file\n"


def content_of(ext: str) -> bytes:
    return PDF if ext == "pdf" else office_file(ext)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "just a zip")
        z.writestr("data/values.csv", "a,b\n1,2\n")
    return buf.getvalue()


@dataclass
class Scene:
    fm: Account
    applicant: Account
    call: dict[str, Any]
    proposal: dict[str, Any]

    @property
    def pid(self) -> str:
        return str(self.proposal["id"])

    @property
    def url(self) -> str:
        return f"/api/v1/proposals/{self.pid}/attachments"


async def scene(world: World) -> Scene:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.draft(applicant, call["id"])
    return Scene(fm, applicant, call, proposal)


def store_root(settings: Settings) -> Path:
    return Path(settings.attachment_dir)


def files_under(root: Path) -> set[Path]:
    if not root.exists():
        return set()
    return {p.relative_to(root) for p in root.rglob("*") if not p.is_dir()}


def assert_store_holds(settings: Settings, *contents: bytes) -> None:
    """The store holds exactly these contents, each once, at <aa>/<bb>/<sha256>."""
    root = store_root(settings)
    expected = {Path(d[:2]) / d[2:4] / d for d in {sha(c) for c in contents}}
    assert files_under(root) == expected
    for content in contents:
        assert (root / sha(content)[:2] / sha(content)[2:4] / sha(content)).read_bytes() == content


async def attachments_of(world: World, account: Account, pid: str) -> list[dict[str, Any]]:
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=account.headers)
    assert r.status_code == 200, r.text
    files: list[dict[str, Any]] = r.json()["attachments"]
    return files


# --- accepted types, download ------------------------------------------------------------


async def test_upload_and_download_each_allowed_type(world: World, settings: Settings) -> None:
    s = await scene(world)
    for ext in MEDIA:
        content = content_of(ext)
        r = await world.attach(
            s.applicant, s.pid, f"annex_{ext}", content=content, filename=f"Annex.{ext}"
        )
        assert r.status_code == 201, (ext, r.text)
        att = r.json()
        assert att["kind"] == f"annex_{ext}"
        assert att["filename"] == f"Annex.{ext}"
        assert att["media_type"] == MEDIA[ext]
        assert att["size"] == len(content)
        assert att["sha256"] == sha(content)
        assert att["stage"] == s.proposal["stage"]
        assert r.headers["Location"] == f"{s.url}/{att['id']}"

        for reader in (s.applicant, s.fm):
            d = await world.client.get(r.headers["Location"], headers=reader.headers)
            assert d.status_code == 200, (ext, d.text)
            assert d.content == content, ext
            assert d.headers["Content-Type"] == MEDIA[ext]
            assert d.headers["X-Content-Type-Options"] == "nosniff"
            assert d.headers["Content-Disposition"] == f'attachment; filename="Annex.{ext}"'
            assert int(d.headers["Content-Length"]) == len(content)

    files = await attachments_of(world, s.applicant, s.pid)
    assert sorted(f["filename"] for f in files) == sorted(f"Annex.{ext}" for ext in MEDIA)
    assert_store_holds(settings, *(content_of(ext) for ext in MEDIA))


async def test_extension_is_case_insensitive(world: World) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF, filename="BUDGET.PDF")
    assert r.status_code == 201, r.text
    assert r.json()["media_type"] == MEDIA["pdf"]


# --- refused types -------------------------------------------------------------------------


REFUSED: list[tuple[bytes, str, str]] = [
    (PDF, "budget.docx", "pdf-named-docx"),
    (office_file("docx"), "budget.pdf", "docx-named-pdf"),
    (office_file("docx"), "budget.xlsx", "docx-named-xlsx"),
    (office_file("odt"), "budget.ods", "odt-named-ods"),
    (office_file("xlsx"), "budget.odt", "xlsx-named-odt"),
    (PDF, "setup.exe", "exe"),
    (PDF, "notes.txt", "txt"),
    (PDF, "page.html", "html"),
    (PDF, "budget.pdf.exe", "double-extension"),
    (PDF, "budget", "no-extension"),
    (PDF, "pdf", "bare-word"),
    (b"<html><script>alert(1)</script></html>", "budget.pdf", "html-as-pdf"),
    (b"MZ\x90\x00" + bytes(range(256)) * 4, "budget.pdf", "exe-as-pdf"),
    (bytes(range(256)) * 8, "budget.pdf", "random-bytes"),
    (plain_zip(), "budget.xlsx", "plain-zip-as-xlsx"),
    (plain_zip(), "budget.docx", "plain-zip-as-docx"),
    (b"PK\x03\x04 truncated zip", "budget.xlsx", "broken-zip"),
    (b"", "budget.pdf", "empty"),
]


async def test_type_is_checked_by_content_and_name(world: World, settings: Settings) -> None:
    s = await scene(world)
    for content, filename, label in REFUSED:
        r = await world.attach(s.applicant, s.pid, content=content, filename=filename)
        assert r.status_code == 415, (label, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json"), label
        assert r.json()["type"] == "/problems/unsupported-media-type", label
    # NUL truncation: the name's real extension is the one after the NUL.
    body, headers = multipart("budget", b"budget.pdf\x00.exe", PDF)
    r = await world.client.post(s.url, content=body, headers={**s.applicant.headers, **headers})
    assert r.status_code == 415, r.text
    assert await attachments_of(world, s.applicant, s.pid) == []
    assert files_under(store_root(settings)) == set()


# --- size ------------------------------------------------------------------------------------


def pdf_of_size(size: int) -> bytes:
    return PDF + b"%" + b"x" * (size - len(PDF) - 2) + b"\n"


async def test_file_above_the_limit_is_413_and_leaves_nothing(
    world: World, settings: Settings
) -> None:
    s = await scene(world)
    limit = settings.attachment_max_bytes
    assert limit == 256 * 1024
    assert settings.request_max_bytes < limit  # a file may be far larger than any JSON body

    too_big = pdf_of_size(limit + 1)
    assert len(too_big) == limit + 1
    r = await world.attach(s.applicant, s.pid, content=too_big, filename="big.pdf")
    assert r.status_code == 413, r.text
    assert r.json()["type"] == "/problems/payload-too-large"
    assert await attachments_of(world, s.applicant, s.pid) == []
    assert files_under(store_root(settings)) == set()

    # Far past the limit the body itself is refused as it streams in, before any parsing.
    much_too_big = pdf_of_size(4 * limit)
    r = await world.attach(s.applicant, s.pid, content=much_too_big, filename="big.pdf")
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/payload-too-large", r.json()
    assert files_under(store_root(settings)) == set()

    just_fits = pdf_of_size(limit)
    r = await world.attach(s.applicant, s.pid, content=just_fits, filename="fits.pdf")
    assert r.status_code == 201, r.text
    assert r.json()["size"] == limit
    assert_store_holds(settings, just_fits)


# --- names and the file system ---------------------------------------------------------------


def multipart(kind: str, filename: bytes, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A hand-built multipart body, so the filename's bytes reach the server untouched
    (httpx would percent-escape control characters)."""
    boundary = "facility-test-boundary-9f2c"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="kind"\r\n\r\n'
        f"{kind}\r\n"
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


HOSTILE_NAMES = [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\x.pdf", "x.pdf"),
    ("/etc/cron.d/job.pdf", "job.pdf"),
    ("C:\\Windows\\System32\\evil.pdf", "evil.pdf"),
    ("....//....//y.pdf", "y.pdf"),
    ("\u202egpj.pdf", "gpj.pdf"),  # right-to-left override
    ("<b>a</b>.pdf", "b.pdf"),
    ("a:b*c?d|e.pdf", "abcde.pdf"),
]


async def test_hostile_names_are_displayed_safely_and_never_reach_the_disk(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    s = await scene(world)
    for sent, shown in HOSTILE_NAMES:
        r = await world.attach(s.applicant, s.pid, content=PDF, filename=sent)
        assert r.status_code == 201, (sent, r.text)
        att = r.json()
        assert att["filename"] == shown, sent

        d = await world.client.get(f"{s.url}/{att['id']}", headers=s.applicant.headers)
        assert d.status_code == 200, sent
        assert d.content == PDF
        assert d.headers["Content-Disposition"] == f'attachment; filename="{shown}"'

    files = await attachments_of(world, s.applicant, s.pid)
    assert sorted(f["filename"] for f in files) == sorted(shown for _, shown in HOSTILE_NAMES)
    _assert_only_the_store_was_written(settings, tmp_path, PDF)


def _assert_only_the_store_was_written(settings: Settings, tmp_path: Path, *blobs: bytes) -> None:
    assert_store_holds(settings, *blobs)
    root = store_root(settings)
    # Nothing else anywhere in the app's directory: the database, the mail spool, the store.
    tmp_path = settings.attachment_dir.parent
    for path in tmp_path.rglob("*"):
        if path.is_dir():
            continue
        if path.is_relative_to(root):
            continue
        assert path.name.startswith("facility.db") or path.is_relative_to(settings.mail_dir), path
    for name in ("passwd.pdf", "x.pdf", "y.pdf", "job.pdf", "evil.pdf"):
        assert not list(tmp_path.rglob(name)), name
    assert not (tmp_path / "etc").exists()
    assert not Path("/etc/passwd.pdf").exists()
    assert not Path("/etc/cron.d/job.pdf").exists()
    # No temporary leftovers: the staging directory, if any, is empty.
    staging = [p for p in root.rglob("*") if p.is_file() and len(p.name) != 64]
    assert staging == []


RAW_NAMES = [
    (b"bud\x01get\x7f.pdf", "budget.pdf"),
    (b"bud\x1b[31mget.pdf", "bud[31mget.pdf"),  # ANSI escape
    (b"a\tb.pdf", "ab.pdf"),
    ("Бюджет 2026.pdf".encode(), "Бюджет 2026.pdf"),  # kept: printable
    (b"../\x01../z.pdf", "z.pdf"),
    (b"a\x00.pdf", "a.pdf"),  # NUL
    (b'say \\"hi\\".pdf', "say hi.pdf"),  # escaped quotes, unescaped by the parser
]


async def test_control_characters_are_removed_from_names(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    s = await scene(world)
    for raw, shown in RAW_NAMES:
        body, headers = multipart("annex", raw, PDF)
        r = await world.client.post(s.url, content=body, headers={**s.applicant.headers, **headers})
        assert r.status_code == 201, (raw, r.text)
        att = r.json()
        assert att["filename"] == shown, raw
        assert all(ch.isprintable() for ch in att["filename"])

        d = await world.client.get(f"{s.url}/{att['id']}", headers=s.applicant.headers)
        assert d.status_code == 200
        assert d.content == PDF
        [disposition] = [v for k, v in d.headers.raw if k.lower() == b"content-disposition"]
        assert disposition.startswith(b"attachment;"), raw
        assert all(32 <= c < 127 for c in disposition), disposition
    _assert_only_the_store_was_written(settings, tmp_path, PDF)


async def test_name_made_only_of_dots_gets_a_placeholder(world: World) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF, filename="../...pdf")
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "pdf"


async def test_very_long_name_is_cut_to_255(world: World) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF, filename="n" * 400 + ".pdf")
    assert r.status_code == 201, r.text
    assert len(r.json()["filename"]) <= 255


# --- content addressing ------------------------------------------------------------------------


async def test_identical_content_is_stored_once(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    s = await scene(world)
    other = await scene(world)  # another organisation, same bytes
    a = await world.attach(s.applicant, s.pid, "budget", content=PDF, filename="one.pdf")
    b = await world.attach(s.applicant, s.pid, "annex", content=PDF, filename="two.pdf")
    c = await world.attach(other.applicant, other.pid, content=PDF, filename="three.pdf")
    d = await world.attach(s.applicant, s.pid, "annex", content=PDF_2, filename="four.pdf")
    assert {a.status_code, b.status_code, c.status_code, d.status_code} == {201}
    assert a.json()["sha256"] == b.json()["sha256"] == c.json()["sha256"] == sha(PDF)
    assert a.json()["id"] != b.json()["id"]
    _assert_only_the_store_was_written(settings, tmp_path, PDF, PDF_2)

    # Removing one reference leaves the shared file for the others.
    r = await world.client.delete(f"{s.url}/{a.json()['id']}", headers=s.applicant.headers)
    assert r.status_code == 204, r.text
    for url, account in ((f"{s.url}/{b.json()['id']}", s.applicant),
                         (f"{other.url}/{c.json()['id']}", other.applicant)):  # fmt: skip
        r = await world.client.get(url, headers=account.headers)
        assert r.status_code == 200
        assert r.content == PDF


# --- who may do what -----------------------------------------------------------------------


async def test_other_organisation_gets_404_everywhere(world: World, settings: Settings) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    assert r.status_code == 201
    att_url = r.headers["Location"]
    stranger = await world.applicant(country="TJ")

    up = await world.attach(stranger, s.pid, content=PDF_2, filename="mine.pdf")
    assert up.status_code == 404, up.text
    down = await world.client.get(att_url, headers=stranger.headers)
    assert down.status_code == 404, down.text
    assert PDF not in down.content
    gone = await world.client.delete(att_url, headers=stranger.headers)
    assert gone.status_code == 404, gone.text

    # Nothing changed, and the stranger's bytes were not kept.
    files = await attachments_of(world, s.applicant, s.pid)
    assert [f["filename"] for f in files] == ["budget.pdf"]
    assert_store_holds(settings, PDF)


async def test_attachment_is_reachable_only_under_its_own_proposal(world: World) -> None:
    s = await scene(world)
    second = await world.draft(s.applicant, s.call["id"], title="Second proposal")
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_id = r.json()["id"]
    wrong = f"/api/v1/proposals/{second['id']}/attachments/{att_id}"
    assert (await world.client.get(wrong, headers=s.applicant.headers)).status_code == 404
    assert (await world.client.get(wrong, headers=s.fm.headers)).status_code == 404
    assert (await world.client.delete(wrong, headers=s.applicant.headers)).status_code == 404
    assert len(await attachments_of(world, s.applicant, s.pid)) == 1

    unknown = f"{s.url}/{uuid.uuid4()}"
    assert (await world.client.get(unknown, headers=s.applicant.headers)).status_code == 404
    assert (await world.client.delete(unknown, headers=s.applicant.headers)).status_code == 404
    nowhere = f"/api/v1/proposals/{uuid.uuid4()}/attachments"
    r = await world.attach(s.applicant, str(uuid.uuid4()), content=PDF)
    assert r.status_code == 404, r.text
    bad = await world.client.get(f"{nowhere}/not-a-uuid", headers=s.applicant.headers)
    assert bad.status_code == 422


async def test_fund_manager_downloads_but_does_not_upload_or_delete(
    world: World, settings: Settings
) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_url = r.headers["Location"]

    d = await world.client.get(att_url, headers=s.fm.headers)
    assert d.status_code == 200
    assert d.content == PDF

    up = await world.attach(s.fm, s.pid, content=PDF_2, filename="fm.pdf")
    assert up.status_code == 403, up.text
    assert up.json()["type"] == "/problems/forbidden"
    rm = await world.client.delete(att_url, headers=s.fm.headers)
    assert rm.status_code == 403, rm.text
    assert len(await attachments_of(world, s.applicant, s.pid)) == 1
    assert_store_holds(settings, PDF)


@pytest.mark.parametrize("role", ["evaluator", "admin"])
async def test_evaluator_and_admin_are_refused(world: World, settings: Settings, role: str) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_url = r.headers["Location"]
    other = await world.evaluator() if role == "evaluator" else await world.admin()

    assert (await world.attach(other, s.pid, content=PDF_2)).status_code == 403
    # Evaluators may read a proposal's files, but only through an assignment: 404 without.
    expected_read = 404 if role == "evaluator" else 403
    assert (await world.client.get(att_url, headers=other.headers)).status_code == expected_read
    assert (await world.client.delete(att_url, headers=other.headers)).status_code == 403
    assert len(await attachments_of(world, s.applicant, s.pid)) == 1
    assert_store_holds(settings, PDF)


async def test_anonymous_is_401(world: World) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_url = r.headers["Location"]
    up = await world.client.post(
        s.url, data={"kind": "budget"}, files={"file": ("b.pdf", PDF, "application/pdf")}
    )
    assert up.status_code == 401
    assert (await world.client.get(att_url)).status_code == 401
    assert (await world.client.delete(att_url)).status_code == 401


# --- draft vs submitted ----------------------------------------------------------------------


async def test_delete_in_draft(world: World, settings: Settings) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_url = r.headers["Location"]

    rm = await world.client.delete(att_url, headers=s.applicant.headers)
    assert rm.status_code == 204, rm.text
    assert rm.content == b""
    after = await world.client.get(f"/api/v1/proposals/{s.pid}", headers=s.applicant.headers)
    assert after.json()["attachments"] == []

    assert (await world.client.get(att_url, headers=s.applicant.headers)).status_code == 404
    assert (await world.client.delete(att_url, headers=s.applicant.headers)).status_code == 404

    # The proposal can no longer be submitted without its required budget.
    refused = await world.fire(s.applicant, s.pid, "submit")
    assert refused.status_code == 422, refused.text


async def test_submitted_proposal_locks_its_files(world: World, settings: Settings) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    pid = proposal["id"]
    url = f"/api/v1/proposals/{pid}/attachments"
    [att] = proposal["attachments"]
    att_url = f"{url}/{att['id']}"

    up = await world.attach(applicant, pid, "annex", content=PDF_2, filename="late.pdf")
    assert up.status_code == 409, up.text
    assert up.json()["type"] == "/problems/conflict"
    rm = await world.client.delete(att_url, headers=applicant.headers)
    assert rm.status_code == 409, rm.text

    after = await world.client.get(f"/api/v1/proposals/{pid}", headers=applicant.headers)
    assert [a["id"] for a in after.json()["attachments"]] == [att["id"]]
    assert_store_holds(settings, PDF)  # the refused upload left nothing behind

    # Still downloadable by both sides.
    for reader in (applicant, fm):
        d = await world.client.get(att_url, headers=reader.headers)
        assert d.status_code == 200
        assert d.content == PDF

    # The receipt's content hash covers the attachment's digest.
    r = await world.client.get(f"/api/v1/proposals/{pid}/submissions", headers=applicant.headers)
    assert r.status_code == 200, r.text
    [submission] = r.json()
    content = submission["content"]
    assert {
        "kind": "budget",
        "filename": "budget.pdf",
        "media_type": MEDIA["pdf"],
        "size": len(PDF),
        "sha256": sha(PDF),
    } in content["attachments"]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert submission["content_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert submission["content_hash"] == proposal["receipt"]["content_hash"]
    # A different file would have given a different hash.
    tampered = json.loads(canonical)
    tampered["attachments"][0]["sha256"] = sha(PDF_2)
    other = json.dumps(tampered, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(other.encode()).hexdigest() != submission["content_hash"]


async def test_withdrawn_proposal_files_are_frozen(world: World, settings: Settings) -> None:
    s = await scene(world)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    att_url = r.headers["Location"]
    w = await world.fire(s.applicant, s.pid, "withdraw")
    assert w.status_code == 200, w.text
    assert (await world.attach(s.applicant, s.pid, content=PDF_2)).status_code == 409
    assert (await world.client.delete(att_url, headers=s.applicant.headers)).status_code == 409
    assert (await world.client.get(att_url, headers=s.applicant.headers)).content == PDF
    assert_store_holds(settings, PDF)


# --- kind ------------------------------------------------------------------------------------


BAD_KINDS = ["Budget!", "", "budget plan", "1budget", "_budget", "b" * 41, "бюджет", "budget\n"]


async def test_invalid_kind_is_422(world: World, settings: Settings) -> None:
    s = await scene(world)
    for kind in BAD_KINDS:
        r = await world.attach(s.applicant, s.pid, kind, content=PDF)
        assert r.status_code == 422, (kind, r.text)
        assert "kind" in {e["field"] for e in r.json()["errors"]}, kind
    assert await attachments_of(world, s.applicant, s.pid) == []
    assert files_under(store_root(settings)) == set()


async def test_missing_kind_or_file_is_422(world: World) -> None:
    s = await scene(world)
    r = await world.client.post(
        s.url, files={"file": ("b.pdf", PDF, "application/pdf")}, headers=s.applicant.headers
    )
    assert r.status_code == 422, r.text
    assert "kind" in {e["field"] for e in r.json()["errors"]}
    r = await world.client.post(s.url, data={"kind": "budget"}, headers=s.applicant.headers)
    assert r.status_code == 422, r.text
    assert "file" in {e["field"] for e in r.json()["errors"]}


# --- ETag ------------------------------------------------------------------------------------


async def test_etag_changes_when_an_attachment_is_added(world: World) -> None:
    s = await scene(world)
    path = f"/api/v1/proposals/{s.pid}"
    before = await world.client.get(path, headers=s.applicant.headers)
    etag = before.headers["ETag"]

    r = await world.attach(s.applicant, s.pid, content=PDF)
    assert r.status_code == 201

    after = await world.client.get(path, headers=s.applicant.headers)
    assert len(after.json()["attachments"]) == 1
    # An edit based on the representation read before the upload is stale.
    stale = await world.client.patch(
        path, json={"title": "Edited"}, headers={**s.applicant.headers, "If-Match": etag}
    )
    assert stale.status_code == 412, stale.text
    assert after.headers["ETag"] != etag


async def test_etag_changes_when_an_attachment_is_removed(world: World, clock: FrozenClock) -> None:
    s = await scene(world)
    path = f"/api/v1/proposals/{s.pid}"
    clock.advance(seconds=1)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    etag = (await world.client.get(path, headers=s.applicant.headers)).headers["ETag"]

    rm = await world.client.delete(r.headers["Location"], headers=s.applicant.headers)
    assert rm.status_code == 204
    after = await world.client.get(path, headers=s.applicant.headers)
    assert after.json()["attachments"] == []
    assert after.headers["ETag"] != etag


async def test_etag_changes_with_attachments_when_time_has_passed(
    world: World, clock: FrozenClock
) -> None:
    """The same checks, with the clock moved between requests: this much works today."""
    s = await scene(world)
    path = f"/api/v1/proposals/{s.pid}"
    etags = [(await world.client.get(path, headers=s.applicant.headers)).headers["ETag"]]
    clock.advance(seconds=1)
    r = await world.attach(s.applicant, s.pid, content=PDF)
    etags.append((await world.client.get(path, headers=s.applicant.headers)).headers["ETag"])
    clock.advance(seconds=1)
    await world.client.delete(r.headers["Location"], headers=s.applicant.headers)
    etags.append((await world.client.get(path, headers=s.applicant.headers)).headers["ETag"])
    assert len(set(etags)) == 3, etags
    stale = await world.client.patch(
        path, json={"title": "Edited"}, headers={**s.applicant.headers, "If-Match": etags[0]}
    )
    assert stale.status_code == 412, stale.text
