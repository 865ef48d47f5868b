"""Writing a generated document to its file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(path: Path, content: bytes, *, mode: int = 0o644) -> Path:
    """Write `content` to `path` at once: a temporary file in the same folder, renamed over
    `path`. A reader never sees half a document and a crash leaves the previous one. The file
    gets `mode` (default: readable like any published document; 0o600 keeps a record that is
    not public to its owner). The folder is created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
