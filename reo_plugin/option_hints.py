"""Where the command-line options named in a worker's message are, in the dock and in Processing.

reo_core's messages say what to change in the words of its command line (``--allow-l1c``,
``--band-order eurosat``): they are the same for every front end. The plugin keeps them as they are
and adds, for each option a message names, the control or the Processing parameter that sets it.
"""

from __future__ import annotations

import re

DOCK, PROCESSING = "dock", "processing"
BAND_ORDER_OPTION = "--band-order"
# option -> (its control in the dock, its Processing parameter)
PLACES: dict[str, tuple[str, str]] = {
    "--allow-l1c": ("Advanced ▸ Allow Level-1C", "ALLOW_L1C"),
    BAND_ORDER_OPTION: ("Inputs ▸ Band order", "BAND_ORDER"),
    "--boa-offset": ("Advanced ▸ BOA offset", "BOA_OFFSET"),
    "--cloud-mask": ("Inputs ▸ Cloud mask", "CLOUD_MASK"),
    "--cloud-mask-kind": ("Inputs ▸ Cloud mask, its kind", "CLOUD_MASK_KIND"),
    "--cloud-threshold": ("Inputs ▸ Cloud mask, its threshold", "CLOUD_THRESHOLD"),
    "--band": (
        "the band grid under Inputs (any layer and band for each band)",
        "BANDS (BAND=FILE[:INDEX]) or SENTINEL2 (one raster per band, named like …_B04.tif)",
    ),
}
_OPTION = re.compile(r"--[a-z0-9]+(?:-[a-z0-9]+)*")


def options_named(message: str) -> list[str]:
    """The command-line options of ``PLACES`` that ``message`` names, in its order."""
    return [option for option in dict.fromkeys(_OPTION.findall(message)) if option in PLACES]


def where_to_change(message: str, place: str) -> str:
    """'In the dock: Advanced ▸ Allow Level-1C (--allow-l1c).' for the options ``message`` names,
    in the order it names them; '' when it names none."""
    column = 0 if place == DOCK else 1
    found = options_named(message)
    if not found:
        return ""
    where = "; ".join(f"{PLACES[option][column]} ({option})" for option in found)
    return f"In {'the dock' if place == DOCK else 'Processing'}: {where}."


def with_hint(message: str, place: str) -> str:
    """``message`` and, on a line of its own, where its options are."""
    hint = where_to_change(message, place)
    return f"{message}\n{hint}" if hint else message
