"""Synthetic scene simulator: Sentinel-2 L2A, PALSAR-2 and AGB truth from a seed
(``python -m reo_core.synth``).

Learning is shown offline on scenes whose truth is known exactly (DESIGN.md, "What cannot be had
here"): :func:`simulate_scene` makes the arrays, :func:`write_scene` writes them as GeoTIFFs laid
out like real products plus scene.json, and :func:`write_agbd` writes AGBD-format HDF5 files.
"""

from reo_core.synth.agbd_h5 import SYNTHETIC_TILES, write_agbd
from reo_core.synth.fields import block_mean, block_mode, gaussian_field
from reo_core.synth.geotiff import write_scene
from reo_core.synth.location import DEFAULT_LOCATION, SceneLocation
from reo_core.synth.scene import patch_truth, simulate_scene
from reo_core.synth.spectra import ndvi, spectrum

__all__ = [
    "DEFAULT_LOCATION",
    "SYNTHETIC_TILES",
    "SceneLocation",
    "block_mean",
    "block_mode",
    "gaussian_field",
    "ndvi",
    "patch_truth",
    "simulate_scene",
    "spectrum",
    "write_agbd",
    "write_scene",
]
