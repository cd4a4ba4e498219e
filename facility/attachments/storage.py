"""Content-addressed file store: a file lives at ``<root>/<aa>/<bb>/<sha256>``.

Paths are built from the digest only; nothing a client sends reaches the file system.
Files are written to a temporary name in the store and renamed into place, so a reader never
sees half a file. A blob whose database row was rolled back stays as an unreferenced file
(harmless: identical content reuses it).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from facility.errors import PayloadTooLarge

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StagedFile:
    path: Path
    sha256: str
    size: int


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if not _DIGEST.match(sha256):
            raise ValueError("not a SHA-256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def stage(self, chunks: AsyncIterator[bytes], max_bytes: int) -> StagedFile:
        """Write an upload to a temporary file, hashing and counting as it comes."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(f"The file exceeds the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    fh.write(chunk)
        except BaseException:
            _remove(name)
            raise
        return StagedFile(Path(name), digest.hexdigest(), size)

    def commit(self, staged: StagedFile) -> Path:
        final = self.path_for(staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, final)  # atomic; identical content simply replaces itself
        return final

    def discard(self, staged: StagedFile) -> None:
        _remove(str(staged.path))


def _remove(name: str) -> None:
    Path(name).unlink(missing_ok=True)
