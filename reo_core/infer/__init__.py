"""Inference: patches streamed from rasters -> REO-VLM -> AGB, land cover and counts on the patch
grid.

The modules and what each does:

- ``engine``: ``InferenceEngine`` / ``load_engine``: batches of patches on a device, one
  generation per patch, OOM halving, cancel, the speed levers
- ``answer_types``: the answer type a question asks for and the grammar of its answers
- ``prefetch``: reading and compositing the next block in a thread while the device works
- ``device``, ``batching``, ``prompt``: device and precision choice; self-halving batches; the
  fixed AGB question
- ``inputs``: files and extent -> ``PatchReader`` for one model (errors name what the model needs)
- ``products``, ``quicklook``: patch-grid GeoTIFFs, summary totals, the PNG quicklook
- ``estimate``, ``distributed``: the whole "Estimate AGB" job, in one process or k under
  ``accelerate launch``
- ``question``: asking about the patch under a point, answered as the map answers it

Importing this package is cheap; torch loads with ``engine``.
"""
