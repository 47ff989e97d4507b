"""JSON Lines files: one JSON object per line, errors that name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reo_core.errors import InputError


def read_jsonl(path: Path, expected: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of every non-blank line; ``expected`` says what a line should hold.

    Raises InputError naming the file and line for invalid JSON or a line that is not an object.
    """
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"{Path(path).name} line {number}: not valid JSON ({err.msg}); "
                    f"each line must be {expected}."
                ) from None
            if not isinstance(record, dict):
                raise InputError(
                    f"{Path(path).name} line {number}: expected {expected}, "
                    f"found {type(record).__name__}."
                )
            yield number, record
