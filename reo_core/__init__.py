"""REO core library: sensors, rasters, data, model and training of REO-VLM.

This package never imports QGIS or Qt, and importing it stays cheap: heavy dependencies (torch,
transformers) are imported only by the modules that need them.
"""

__version__ = "0.1.0"
