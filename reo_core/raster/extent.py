"""The area to process: a bounding box or a polygon, in any CRS, brought into the imagery's CRS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from reo_core.errors import ExtentError, InputError

# Edges are densified before reprojection so that straight lines that bend in the target CRS
# keep their shape; 100 points per edge is what GDAL's transform_bounds uses by default.
DENSIFY_POINTS = 100


@dataclass(frozen=True)
class Extent:
    """A bounding box or polygon with its CRS (anything pyproj understands: 'EPSG:4326', WKT)."""

    geometry: BaseGeometry
    crs: CRS
    is_box: bool

    @classmethod
    def from_bounds(
        cls, xmin: float, ymin: float, xmax: float, ymax: float, crs: str | CRS
    ) -> Extent:
        if not (xmin < xmax and ymin < ymax):
            raise ExtentError(
                f"Extent ({xmin}, {ymin}, {xmax}, {ymax}) is empty: xmin must be < xmax "
                "and ymin < ymax."
            )
        return cls(box(xmin, ymin, xmax, ymax), parse_crs(crs), is_box=True)

    @classmethod
    def from_geometry(cls, geometry: BaseGeometry, crs: str | CRS) -> Extent:
        if geometry.is_empty or geometry.area <= 0:
            raise ExtentError("The area of interest is empty; give a polygon with a positive area.")
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        return cls(geometry, parse_crs(crs), is_box=False)

    @classmethod
    def from_geojson(cls, path: str | Path) -> Extent:
        """Union of the polygons of a GeoJSON file (EPSG:4326 unless it names another CRS)."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InputError(f"Cannot read the area of interest {path}: {error}") from None
        features = document.get("features") or [document]
        geometries = [shape(f.get("geometry", f)) for f in features]
        crs = document.get("crs", {}).get("properties", {}).get("name", "EPSG:4326")
        return cls.from_geometry(shapely.union_all(geometries), crs)

    def to_crs(self, target: CRS) -> Extent:
        """The same area in ``target`` (edges densified so they bend as they should)."""
        if self.crs == target:
            return self
        transformer = Transformer.from_crs(self.crs, target, always_xy=True)
        length = max(self.geometry.length, 1e-12)
        dense = shapely.segmentize(self.geometry, length / (4 * DENSIFY_POINTS))
        try:
            projected = shapely.transform(dense, transformer.transform, interleaved=False)
        except Exception as error:  # pyproj raises several types for points outside a CRS's area
            raise ExtentError(f"The extent cannot be expressed in {target.name}: {error}") from None
        if not projected.is_valid or not all(map(_finite, projected.bounds)):
            raise ExtentError(f"The extent falls outside the area where {target.name} is defined.")
        return Extent(projected, target, is_box=False)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return self.geometry.bounds


def parse_crs(crs: str | CRS | object) -> CRS:
    """A pyproj CRS from 'EPSG:4326', WKT, a rasterio CRS or a pyproj CRS; a clear error
    otherwise."""
    try:
        if hasattr(crs, "to_wkt") and not isinstance(crs, CRS):
            return CRS.from_wkt(crs.to_wkt())
        return CRS.from_user_input(crs)
    except CRSError:
        raise InputError(
            f"'{crs}' is not a coordinate reference system; use a code such as 'EPSG:4326'."
        ) from None


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")
