"""Benchmark: stream Sentinel-2 scenes of two sizes into 25x25 patches; peak memory must stay flat.

    python bench/raster_stream.py [--size 2000] [--scale 4] [--workdir DIR]

Writes a seeded 12-band uint16 scene of ``size`` x ``size`` pixels and one with ``scale`` times the
area, then streams each through ``PatchReader`` in a fresh process and reports patches/s and peak
resident memory (ru_maxrss). Exits 1 if the larger scene's peak exceeds 1.3x the smaller's.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.raster import PatchReader, open_sentinel2  # noqa: E402
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER  # noqa: E402

MAX_RSS_RATIO = 1.3
STRIP_ROWS = 512


# DN of green vegetation per band (AGBD order), so the built-in cloud screening keeps every patch.
VEGETATION_DN = np.array([300, 350, 650, 400, 1000, 2500, 3000, 3300, 3500, 3400, 1800, 900])


def write_scene(path: Path, size: int, seed: int = 0) -> None:
    """A 12-band 10 m uint16 scene of vegetation-like DN (x 0.6..1.4 per pixel and band), written
    strip by strip, so writing it needs little memory."""
    rng = np.random.default_rng(seed)
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=12,
        dtype="uint16",
        nodata=0,
        crs="EPSG:32632",
        transform=from_origin(600_000, 5_100_000, 10, 10),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        interleave="band",
    )
    with rasterio.open(path, "w", **profile) as dst:
        for i, band in enumerate(AGBD_BAND_ORDER, start=1):
            dst.set_band_description(i, band)
        for row in range(0, size, STRIP_ROWS):
            rows = min(STRIP_ROWS, size - row)
            noise = rng.uniform(0.6, 1.4, size=(12, rows, size))
            strip = (VEGETATION_DN[:, None, None] * noise).astype(np.uint16)
            dst.write(strip, window=Window(0, row, size, rows))


def measure(path: Path) -> dict:
    """Stream every patch of one scene; report counts, time and this process's peak RSS."""
    start = time.perf_counter()
    reader = PatchReader(open_sentinel2([path]))
    patches, checksum = 0, 0.0
    for block in reader.blocks():
        patches += int(block.keep.sum())
        checksum += float(np.nansum(block.s2[block.keep][:, :, 12, 12]))  # touch the data
    seconds = time.perf_counter() - start
    return {
        "patches": patches,
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "checksum": checksum,
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process image.

    Linux's VmHWM, not ru_maxrss: ru_maxrss survives fork and exec, so a child would report the
    parent's peak (here: the parent that just wrote the scene).
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_fresh_process(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=int, default=2000, help="side of the smaller scene in pixels"
    )
    parser.add_argument("--scale", type=int, default=4, help="area ratio of the larger scene")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where scenes are written (temporary)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        sizes = [args.size, round(args.size * math.sqrt(args.scale))]
        rows = []
        for size in sizes:
            path = Path(tmp) / f"scene_{size}.tif"
            write_scene(path, size)
            rows.append({"size": size, **measure_in_fresh_process(path)})
    ratio = rows[1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    print("| scene (px) | patches | seconds | patches/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        rate = row["patches"] / row["seconds"]
        print(
            f"| {row['size']} x {row['size']} x 12 | {row['patches']} | {row['seconds']:.1f} | "
            f"{rate:.0f} | {row['peak_rss_mib']:.0f} |"
        )
    print(f"\npeak RSS ratio larger/smaller: {ratio:.3f} (limit {MAX_RSS_RATIO})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "rss_ratio": ratio}, indent=1))
    return 0 if ratio <= MAX_RSS_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
