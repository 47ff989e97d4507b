"""What an estimate writes: patch-grid GeoTIFFs block by block, and the summary of the whole extent.

The files (file: dtype, no-data; content):

- ``agb.tif``: float32, -9999; above-ground biomass, Mg/ha
- ``agb_std.tif``: float32, -9999; its standard deviation, Mg/ha (models with the uncertainty
  head)
- ``land_cover.tif``: uint8 + colour table, 255; CGLS-LC100 class; 0 = the answer named no class
- ``patch_count.tif``: uint8, 255; ecological patch count stated by the answer

The summary is computed from the values as written (float32), block by block in row-major order,
so one process and several give the same numbers.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import rasterio
from rasterio.windows import Window

from reo_core.infer.engine import COUNT_NODATA, BlockResult
from reo_core.landcover import CLASSES, NODATA_CODE, color_table
from reo_core.raster.grid import PixelGrid
from reo_core.raster.writer import PatchGridWriter

FLOAT_NODATA = -9999.0
IPCC_CARBON_FRACTION = 0.47  # IPCC 2006 default carbon fraction of dry biomass
SUMMARY_NAME = "summary.json"
QUICKLOOK_NAME = "quicklook.png"


@dataclass(frozen=True)
class Product:
    """One output raster."""

    key: str
    filename: str
    dtype: str
    nodata: float
    description: str
    unit: str | None = None
    categorical: bool = False


PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        Product("agb", "agb.tif", "float32", FLOAT_NODATA, "AGB (Mg/ha)", "Mg/ha"),
        Product(
            "agb_std",
            "agb_std.tif",
            "float32",
            FLOAT_NODATA,
            "AGB standard deviation (Mg/ha)",
            "Mg/ha",
        ),
        Product(
            "land_cover",
            "land_cover.tif",
            "uint8",
            NODATA_CODE,
            "land cover (CGLS-LC100 code)",
            categorical=True,
        ),
        Product(
            "patch_count",
            "patch_count.tif",
            "uint8",
            COUNT_NODATA,
            "ecological patch count",
            categorical=True,
        ),
    )
}


def product_keys(has_std: bool) -> tuple[str, ...]:
    return (
        ("agb", "agb_std", "land_cover", "patch_count")
        if has_std
        else ("agb", "land_cover", "patch_count")
    )


def product_paths(folder: Path, keys: tuple[str, ...]) -> dict[str, Path]:
    return {key: folder / PRODUCTS[key].filename for key in keys}


class ProductWriters:
    """The output GeoTIFFs of one run, open together; a failure or cancel discards all of them.

    Args:
        folder: where the files go.
        grid: the patch grid (``PatchGrid.grid``).
        keys: which products (``product_keys``).
        tags: metadata written into every file (model, question, software version).
    """

    def __init__(
        self,
        folder: Path,
        grid: PixelGrid,
        keys: tuple[str, ...],
        tags: dict[str, str] | None = None,
    ) -> None:
        self.paths = product_paths(Path(folder), keys)
        self.grid, self.keys, self.tags = grid, keys, tags or {}
        self._stack: ExitStack | None = None
        self._writers: dict[str, PatchGridWriter] = {}

    def __enter__(self) -> ProductWriters:
        with ExitStack() as stack:
            for key in self.keys:
                product = PRODUCTS[key]
                writer = PatchGridWriter(
                    self.paths[key],
                    self.grid,
                    product.dtype,
                    product.nodata,
                    [product.description],
                    units=[product.unit],
                    colormap=color_table() if key == "land_cover" else None,
                    categorical=product.categorical,
                    tags=self.tags,
                )
                self._writers[key] = stack.enter_context(writer)
            self._stack = stack.pop_all()
        return self

    def write(self, result: BlockResult) -> None:
        """Write one block of results (stored dtypes, no-data where skipped)."""
        for key, values in stored_arrays(result, self.keys).items():
            self._writers[key].write(result.row, result.col, values)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        return stack.__exit__(exc_type, exc, traceback)


def stored_arrays(result: BlockResult, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The block's values as written to disk: (R, C) arrays in each product's dtype."""
    arrays = {}
    for key in keys:
        values = getattr(result, key)
        if PRODUCTS[key].dtype == "float32":
            values = np.where(np.isfinite(values), values, FLOAT_NODATA).astype(np.float32)
        arrays[key] = values
    return arrays


def read_block_result(
    datasets: dict[str, rasterio.DatasetReader], row: int, col: int, n_rows: int, n_cols: int
) -> BlockResult:
    """One block back from written products (the inverse of ``stored_arrays``)."""
    window = Window(col, row, n_cols, n_rows)
    values = {key: ds.read(1, window=window) for key, ds in datasets.items()}
    for key, array in values.items():
        if PRODUCTS[key].dtype == "float32":
            values[key] = np.where(array == FLOAT_NODATA, np.float32(np.nan), array).astype(
                np.float32
            )
    return BlockResult(
        row=row,
        col=col,
        keep=np.isfinite(values["agb"]),
        agb=values["agb"],
        agb_std=values.get("agb_std"),
        land_cover=values["land_cover"],
        patch_count=values["patch_count"],
    )


class SummaryAccumulator:
    """Totals over the blocks of an extent: patches, AGB, its spread and the area of each class."""

    def __init__(self, cell_area_ha: float, total_patches: int) -> None:
        self.cell_area_ha = cell_area_ha
        self.total_patches = total_patches
        self.done = 0
        self.agb_sum = 0.0
        self.agb_min, self.agb_max = np.inf, -np.inf
        self.std_sum, self.std_count = 0.0, 0
        self.class_cells = np.zeros(256, dtype=np.int64)

    def add(self, result: BlockResult) -> None:
        keep = result.keep
        agb = result.agb[keep].astype(np.float64)
        self.done += int(keep.sum())
        if agb.size:
            self.agb_sum += float(agb.sum())
            self.agb_min = min(self.agb_min, float(agb.min()))
            self.agb_max = max(self.agb_max, float(agb.max()))
        if result.agb_std is not None:
            std = result.agb_std[keep].astype(np.float64)
            self.std_sum += float(std.sum())
            self.std_count += int(std.size)
        self.class_cells += np.bincount(result.land_cover[keep], minlength=256)

    def summary(self, carbon_fraction: float = IPCC_CARBON_FRACTION) -> dict:
        """The numbers of summary.json (see ``docs``: totals in Mg over the valid area)."""
        area = self.done * self.cell_area_ha
        total = self.agb_sum * self.cell_area_ha
        classes = {
            str(code): {
                "name": CLASSES[code].name if code in CLASSES else "unknown code",
                "patches": int(cells),
                "area_ha": round(float(cells) * self.cell_area_ha, 6),
            }
            for code, cells in enumerate(self.class_cells)
            if cells
        }
        summary = {
            "patches": {
                "total": self.total_patches,
                "done": self.done,
                "skipped": self.total_patches - self.done,
            },
            "cell_area_ha": self.cell_area_ha,
            "valid_area_ha": area,
            "agb": {
                "unit": "Mg/ha",
                "mean": self.agb_sum / self.done if self.done else None,
                "min": self.agb_min if self.done else None,
                "max": self.agb_max if self.done else None,
                "total_mg": total,
            },
            "carbon": {"fraction": carbon_fraction, "total_mg": total * carbon_fraction},
            "land_cover_area_ha": classes,
        }
        if self.std_count:
            summary["agb"]["mean_std"] = self.std_sum / self.std_count
        return summary
