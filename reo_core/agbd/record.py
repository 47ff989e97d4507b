"""One AGBD patch (``AgbdPatch``) and a run of consecutive patches read together (``AgbdBatch``).

A patch is 25 x 25 pixels at 10 m around one GEDI footprint (centre pixel [12, 12]). Arrays keep
AGBD's own units and layout (channel-last, Sentinel-2 in AGBD band order), so a record holds what
the file holds; conversions are methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from reo_core.agbd.offset import OFFSET_SOURCES
from reo_core.patch_lattice import PATCH_SIZE
from reo_core.sensors.sentinel2 import dn_to_reflectance

CENTRE = PATCH_SIZE // 2  # the GEDI footprint's pixel, [12, 12]
SPLITS: tuple[str, ...] = ("train", "val", "test")  # AGBD's split names


def degrees(decimal: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """A coordinate from AGBD's split form: ``sign(decimal) * (|decimal| + offset)``, float64
    degrees.

    AGBD stores whole degrees unsigned in ``*_offset`` and the signed remainder in ``*_decimal``.
    """
    decimal = np.asarray(decimal, dtype=np.float64)
    return np.sign(decimal) * (np.abs(decimal) + np.asarray(offset, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class AgbdPatch:
    """One AGBD patch as the file holds it.

    ``source`` (file name), ``tile`` and ``index`` (position within the tile group, or within the
    file for flat layouts) identify the patch; ``key`` joins them.
    """

    source: str  # file name the patch was read from
    index: int  # position in its tile group (raw layout) or in the file (Lite, parquet)
    tile: str | None  # Sentinel-2 MGRS tile ("32TNN"); None where the layout does not keep it
    region: int | None  # AGBD region index (alphabetical, 0 Austria .. 10 Tanzania) or None
    split: str | None  # "train", "val" or "test"; None if unknown
    s2_dn: np.ndarray  # (25, 25, 12) uint16 L2A DN in AGBD band order; 0 = no data
    boa_offset: int  # DN the product added (0 or 1000), decided by reo_core.agbd.offset
    boa_offset_source: str  # "data" or "metadata": what decided boa_offset
    s2_valid: float  # share of pixels with data in all 12 bands, 0..1
    alos_dn: np.ndarray | None  # (25, 25, 2) uint16 PALSAR-2 mosaic DN, HH, HV; 0 = no data
    lc: np.ndarray  # (25, 25) uint8 CGLS-LC100 class codes; 255 = no data
    lc_prob: np.ndarray  # (25, 25) uint8 class probability, %; 255 = no data
    dem: np.ndarray | None  # (25, 25) int16 elevation, m; -9999 = no data
    agbd: float  # GEDI L4A above-ground biomass density at the centre, Mg/ha (the target)
    lat: float  # footprint latitude, degrees
    lon: float  # footprint longitude, degrees
    s2_date: int | None  # Sentinel-2 acquisition, days since 2019-04-17; None if unknown

    @property
    def key(self) -> str:
        """``"<file>/<tile>/<index>"`` (``"<file>/<index>"`` without a tile): unique per patch."""
        if self.tile is None:
            return f"{self.source}/{self.index}"
        return f"{self.source}/{self.tile}/{self.index}"

    def reflectance(self) -> np.ndarray:
        """Surface reflectance, (25, 25, 12) float32, BOA offset removed, no data (DN 0) as NaN."""
        return dn_to_reflectance(self.s2_dn, self.boa_offset)


@dataclass(frozen=True, eq=False)
class AgbdBatch:
    """``N`` consecutive patches of one tile group or flat file, as arrays with a leading N axis.

    Image arrays are None when the batch was read without images (``read(images=False)``), which
    builders use for a first pass over land cover and labels. Sentinel-2 is read in both cases,
    since the per-patch BOA offset and valid share are decided from its values.
    """

    source: str
    start: int  # index of the first patch within its tile group / file
    tile: str | None
    split: str | None
    region: np.ndarray | None  # (N,) int64 AGBD region index, or None
    s2_dn: np.ndarray | None  # (N, 25, 25, 12) uint16
    boa_offset: np.ndarray  # (N,) int64 DN, 0 or 1000, as decided (reo_core.agbd.offset)
    boa_offset_source: np.ndarray  # (N,) uint8 index into offset.OFFSET_SOURCES
    boa_offset_metadata: np.ndarray  # (N,) int64 DN the metadata alone states
    s2_valid: np.ndarray  # (N,) float32 share of pixels with data in all bands
    alos_dn: np.ndarray | None  # (N, 25, 25, 2) uint16
    lc: np.ndarray  # (N, 25, 25) uint8
    lc_prob: np.ndarray  # (N, 25, 25) uint8
    dem: np.ndarray | None  # (N, 25, 25) int16
    agbd: np.ndarray  # (N,) float32, Mg/ha
    lat: np.ndarray  # (N,) float64, degrees
    lon: np.ndarray  # (N,) float64, degrees
    s2_date: np.ndarray | None  # (N,) int64 days since 2019-04-17

    def __len__(self) -> int:
        return int(self.agbd.shape[0])

    def patch(self, i: int) -> AgbdPatch:
        """Patch ``i`` of the batch (0-based); the batch must have been read with images."""
        if self.s2_dn is None:
            raise ValueError("This batch was read with images=False; read it with images=True.")
        return AgbdPatch(
            source=self.source,
            index=self.start + i,
            tile=self.tile,
            region=None if self.region is None else int(self.region[i]),
            split=self.split,
            s2_dn=self.s2_dn[i],
            boa_offset=int(self.boa_offset[i]),
            boa_offset_source=OFFSET_SOURCES[int(self.boa_offset_source[i])],
            s2_valid=float(self.s2_valid[i]),
            alos_dn=None if self.alos_dn is None else self.alos_dn[i],
            lc=self.lc[i],
            lc_prob=self.lc_prob[i],
            dem=None if self.dem is None else self.dem[i],
            agbd=float(self.agbd[i]),
            lat=float(self.lat[i]),
            lon=float(self.lon[i]),
            s2_date=None if self.s2_date is None else int(self.s2_date[i]),
        )

    def patches(self) -> Iterator[AgbdPatch]:
        """The batch's patches in order."""
        for i in range(len(self)):
            yield self.patch(i)


@dataclass(frozen=True, eq=False)
class AgbdWindow:
    """A run of consecutive patches not read yet; ``read()`` loads it as an :class:`AgbdBatch`.

    Readers hand windows out lazily and keep their file open only while they iterate: read a
    window before asking for the next one.
    """

    source: str
    tile: str | None
    split: str | None
    start: int  # first patch, index within the tile group / file
    stop: int  # one past the last patch
    reader: Callable[[bool], AgbdBatch]  # images -> batch

    def __len__(self) -> int:
        return self.stop - self.start

    def read(self, images: bool = True) -> AgbdBatch:
        """The window's patches; ``images=False`` keeps no S2, ALOS or DEM arrays (a first pass)."""
        return self.reader(images)
