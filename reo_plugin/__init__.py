"""REO's QGIS user interface. A thin layer: it never imports torch; the model runs in a worker.

GPL-2.0-or-later, like all of REO (the LICENSE file at the repository root and in every zip).
"""
