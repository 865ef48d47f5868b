"""Content-addressed storage of evidence documents (SHA-256 under the data folder)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flows.errors import invalid
from models.db import DATA_DIR_ENV


class DocumentStore:
    """Blobs live at <data_dir>/documents/<sha[:2]>/<sha>. Writing is idempotent, so a
    transaction that rolls back leaves at most an unreferenced blob, never a wrong one.

    With no data folder (PostgreSQL without DECISIONFLOW_DATA_DIR) every read and write is
    refused with INPUT naming the variable: evidence never lands in the current directory."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None

    @property
    def root(self) -> Path:
        if self.data_dir is None:
            raise invalid(
                DATA_DIR_ENV,
                "未配置证据文件夹：使用 PostgreSQL 时须设置此环境变量",
                "no data folder for evidence files is configured: set this variable when using PostgreSQL",
            )
        return self.data_dir / "documents"

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        sha = hashlib.sha256(content).hexdigest()
        target = self.path_for(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(tmp, target)
        return sha

    def get(self, sha256: str) -> bytes:
        return self.path_for(sha256).read_bytes()

    def problem(self, sha256: str, size: int) -> str | None:
        """Why the stored blob does not match its row (None when it does)."""
        path = self.path_for(sha256)
        if not path.is_file():
            return "missing"
        digest = hashlib.sha256()
        length = 0
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                length += len(chunk)
        if digest.hexdigest() != sha256:
            return "altered: content does not match its SHA-256"
        if length != size:
            return f"altered: {length} bytes, the record says {size}"
        return None

    def verify(self, sha256: str) -> bool:
        path = self.path_for(sha256)
        return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256
