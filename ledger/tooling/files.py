"""Reading and writing the files of a run that anyone in the consortium can write to: JSON read with a bound on its
nesting, and files replaced whole through a temporary file nobody could have planted."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

MAX_DEPTH = 64  # no file pilotledger writes nests deeper; the json module overflows the C stack long before 100,000


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> object:
    """`text` as JSON; ValueError (as json's own) for what is not JSON or nests deeper than `max_depth`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.count("[") + text.count("{") > max_depth:  # fewer brackets cannot nest past the bound: no scan
        depth, in_string, escaped = 0, False, False
        for char in text:
            if in_string:
                escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
                if depth > max_depth:
                    raise ValueError(f"JSON nested deeper than {max_depth} levels")
            elif char in "]}":
                depth -= 1
    return json.loads(text)


def write_atomically(path: Path, data: bytes) -> None:
    """Replaces `path` whole with `data`: written to a new temporary file beside it (created exclusively, so a
    link planted under any name is never written through), flushed, then moved into place; a reader sees the
    old file or the new one, never half of one."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
