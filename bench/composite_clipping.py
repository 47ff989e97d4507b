"""How black are the composites? Clipped pixels with AGBD's published statistics and with REO's own.

    python bench/composite_clipping.py [--train-seeds 101] [--train-patches 1200]
        [--test-seed 9001] [--test-patches 600] [--real ../shared/data/real/bigearthnet-s2-l2a]

REO's statistics come from the training split of a REO-Instruct build made here from synthetic AGBD
files (``statistics.json``, what a model trained on the build scales with). They and AGBD's
published 2019-2020 statistics scale three sets of patches to 0-255, as the composites do:
held-out synthetic patches (a seed never used for the statistics), and the real BigEarthNet L2A
patches (each 120 x 120 patch cut into 16 patches of 25 x 25). For every band the composites use,
the table gives the share of valid pixels clipped to 0 and to 255, and for synthetic patches above
100 Mg/ha the share of natural-colour channels that are entirely black.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from reo_core.instruct.build import BuildConfig, build_instruct  # noqa: E402
from reo_core.instruct.store import STATISTICS_NAME, PatchStore, s2_reflectance  # noqa: E402
from reo_core.sensors.composites import (  # noqa: E402
    SPECTRAL_COMPOSITES,
    bands_needed,
    clipped_shares,
    spectral_composite,
)
from reo_core.sensors.sentinel2 import AGBD_BAND_ORDER  # noqa: E402
from reo_core.sensors.statistics import DEFAULT_STATISTICS, load_statistics  # noqa: E402
from reo_core.synth.agbd_h5 import RAW_NAME, write_agbd  # noqa: E402
from reo_core.synth.realism import read_bigearthnet  # noqa: E402

REAL = REPO_ROOT.parent / "shared" / "data" / "real" / "bigearthnet-s2-l2a"
HIGH_AGB = 100.0  # Mg/ha


def build(folder: Path, seeds: list[int], patches: int) -> Path:
    """Synthetic AGBD files for ``seeds``, built into REO-Instruct; returns the build folder."""
    files = []
    for seed in seeds:
        write_agbd(folder / f"agbd-{seed}", patches, seed=seed)
        files.append(folder / f"agbd-{seed}" / RAW_NAME)
    build_instruct(BuildConfig(agbd=tuple(files), out=folder / "instruct", seed=0))
    return folder / "instruct"


def stored_patches(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every stored patch of a build: reflectance (N, 12, 25, 25) and AGB (N,)."""
    store = PatchStore(folder)
    s2, agb = [], []
    for split in store.splits():
        for shard in store.shards(split):
            s2.append(s2_reflectance(np.asarray(shard["s2"])))
            agb += [patch["agb"] for patch in shard["meta"]["patches"]]
    return np.concatenate(s2), np.array(agb)


def real_patches(folder: Path) -> np.ndarray:
    """The BigEarthNet patches cut into 25 x 25 patches: (N, 12, 25, 25) reflectance."""
    patches = []
    for patch in sorted(p for p in folder.iterdir() if p.is_dir()):
        reflectance, _ = read_bigearthnet(patch)
        for row in range(0, 100, 25):
            for col in range(0, 100, 25):
                patches.append(reflectance[:, row : row + 25, col : col + 25])
    return np.stack(patches)


def black_visible_channels(s2: np.ndarray, stats) -> float:
    """Share of natural-colour channels (R, G, B of each patch) that are 0 everywhere."""
    image = spectral_composite(s2, AGBD_BAND_ORDER, SPECTRAL_COMPOSITES["natural_color"], stats)
    return float((image.max(axis=(-2, -1)) == 0).mean())


def rows_for(name: str, s2: np.ndarray, sets: dict, agb: np.ndarray | None) -> list[str]:
    rows = []
    for set_name, stats in sets.items():
        shares = clipped_shares(s2, AGBD_BAND_ORDER, stats)
        cells = [f"{100 * shares[b][0]:.0f} / {100 * shares[b][1]:.0f}" for b in bands_needed("ms")]
        black = (
            f"{100 * black_visible_channels(s2[agb > HIGH_AGB], stats):.0f} %"
            if agb is not None
            else "-"
        )
        rows.append(
            f"| {name} ({len(s2)} patches) | {set_name} | " + " | ".join(cells) + f" | {black} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[101])
    parser.add_argument("--train-patches", type=int, default=1200, help="per seed")
    parser.add_argument("--test-seed", type=int, default=9001)
    parser.add_argument("--test-patches", type=int, default=600)
    parser.add_argument("--real", type=Path, default=REAL)
    args = parser.parse_args(argv)
    if args.test_seed in args.train_seeds:
        parser.error("--test-seed must not be one of --train-seeds")
    with tempfile.TemporaryDirectory() as tmp:
        train = build(Path(tmp) / "train", args.train_seeds, args.train_patches)
        test = build(Path(tmp) / "test", [args.test_seed], args.test_patches)
        reo = load_statistics(train / STATISTICS_NAME)
        synthetic, agb = stored_patches(test)
    sets = {f"AGBD published ({DEFAULT_STATISTICS})": load_statistics(), f"REO ({reo.name})": reo}
    bands = bands_needed("ms")
    lines = [
        "Share of valid pixels clipped to 0 / to 255 (%), per band of the composites; last column: "
        f"natural-colour channels entirely black in patches above {HIGH_AGB:.0f} Mg/ha.",
        "",
        "| patches | statistics | " + " | ".join(bands) + " | black RGB channels |",
        "|---|---|" + "---|" * (len(bands) + 1),
        *rows_for(f"synthetic, seed {args.test_seed}", synthetic, sets, agb),
    ]
    if args.real.is_dir():
        lines += rows_for("real BigEarthNet L2A", real_patches(args.real), sets, None)
    lines += ["", "p1 / p99 (reflectance):"]
    for name, stats in sets.items():
        ranges = ", ".join(
            f"{b} {stats.s2_range(b)[0]:.4f}/{stats.s2_range(b)[1]:.4f}" for b in bands
        )
        lines.append(f"- {name}: {ranges}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
