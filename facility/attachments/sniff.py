"""Tell a file's type by its content, and check that its name agrees."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePath

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"

MEDIA_TYPE_BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".xlsx": XLSX, ".odt": ODT, ".ods": ODS}
ALLOWED_EXTENSIONS = tuple(MEDIA_TYPE_BY_EXTENSION)


def detect(path: Path) -> str | None:
    """The media type of the file at ``path`` among the allowed five, or None."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"%PDF-"):
        return PDF
    if not head.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            # OpenDocument: an uncompressed "mimetype" entry first, naming the type.
            if infos and infos[0].filename == "mimetype" and infos[0].file_size < 100:
                declared = archive.read(infos[0]).decode("ascii", "replace").strip()
                if declared in (ODT, ODS):
                    return declared
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None
    return None


def expected_type(filename: str) -> str | None:
    return MEDIA_TYPE_BY_EXTENSION.get(PurePath(filename).suffix.lower())


def safe_display_name(filename: str) -> str:
    """The client's name for the file, reduced to something safe to show and echo back."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    return name.strip(" .")[:255] or "attachment"
