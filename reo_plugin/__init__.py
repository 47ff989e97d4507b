"""REO's QGIS user interface. A thin layer: it never imports torch; the model runs in a worker."""
