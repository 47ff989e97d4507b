"""Band mappings as users type them: ``BAND=FILE[:INDEX]``.

The command line takes them as repeated ``--band`` options, the Processing algorithm as one text
(``BANDS``: one mapping per line, or separated by ``;``). Both parse them here, with the same rule
and the same messages; this module loads neither GDAL nor torch, so the plugin can import it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from reo_core.errors import InputError

BandMapping = dict[str, tuple[Path, int]]  # band name as typed -> (file, 1-based band index)

# The index is the last ":<digits>", so Windows drive letters ("C:\\s2.tif") stay in the path.
_BAND_ARGUMENT = re.compile(r"^(?P<band>[^=]+)=(?P<path>.+?)(?::(?P<index>\d+))?$")
_SEPARATORS = re.compile(r"[;\n]")


def parse_band_arguments(values: Sequence[str], option: str = "--band") -> BandMapping:
    """``['B02=blue.tif', 'B8A=stack.tif:9']`` -> {'B02': (blue.tif, 1), 'B8A': (stack.tif, 9)}.

    ``option`` names where the values came from in the messages (``--band``, ``BANDS``).
    """
    mapping: BandMapping = {}
    for value in values:
        match = _BAND_ARGUMENT.match(value.strip())
        if match is None:
            raise InputError(
                f"{option} {value!r} is not BAND=FILE[:INDEX], e.g. {option} B8A=s2.tif:9."
            )
        band, path = match.group("band").strip(), Path(match.group("path").strip())
        if band in mapping:
            raise InputError(f"{option} gives {band} twice; give each band once.")
        mapping[band] = (path, int(match.group("index") or 1))
    return mapping


def split_band_text(text: str) -> list[str]:
    """The mappings of one text: one per line or separated by ``;``; blank entries dropped."""
    return [entry.strip() for entry in _SEPARATORS.split(text or "") if entry.strip()]
