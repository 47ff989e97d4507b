"""QGIS entry point of the REO plugin (GPL-2.0-or-later; see LICENSE).

QGIS imports this folder as a package named after the folder. The plugin's own code lives in the
top-level packages ``reo_plugin`` and ``reo_core`` (the same imports that ``python -m reo_core...``
uses from the repository root), so the folder is appended to ``sys.path`` before they are imported.
Appending, not prepending, means no module of QGIS or of another plugin can be shadowed.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qgis.gui import QgisInterface

    from reo_plugin.plugin import ReoPlugin

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
if _PLUGIN_DIR not in sys.path:
    sys.path.append(_PLUGIN_DIR)


def classFactory(iface: QgisInterface) -> ReoPlugin:  # QGIS's required entry point
    from reo_plugin.plugin import ReoPlugin

    return ReoPlugin(iface)
