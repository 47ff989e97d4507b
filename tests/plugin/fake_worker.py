"""A stand-in for ``python -m reo_core.serve`` that speaks the same protocol without a model.

It uses reo_core's own raster pipeline, so its outputs lie on the grid the real worker uses, and
its replies come from reo_core.serve_protocol, so they have the real worker's shape. Options make
it slow (for cancel), crash mid-request, ignore cancel, or never become ready.

    python tests/plugin/fake_worker.py [--delay S] [--steps N] [--crash] [--ignore-cancel]
                                       [--no-ready] [--exit-delay S] [--protocol N] [--old-result]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from reo_core import serve_protocol as protocol
from reo_core.errors import Canceled, ReoError
from reo_core.serve import input_spec


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per progress step")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--crash", action="store_true", help="exit in the middle of an estimate")
    parser.add_argument("--ignore-cancel", action="store_true")
    parser.add_argument("--no-ready", action="store_true")
    parser.add_argument(
        "--exit-delay",
        type=float,
        default=0.0,
        help="seconds from shutdown to exit (a real worker unloading torch)",
    )
    parser.add_argument("--protocol", type=int, help="announce this protocol version, then hang")
    parser.add_argument("--old-result", action="store_true", help="estimate results of protocol 1")
    args = parser.parse_args()
    out = sys.stdout
    lock = threading.Lock()

    def send(reply) -> None:
        with lock:
            out.write(protocol.reply_line(reply) + "\n")
            out.flush()

    if args.no_ready:
        time.sleep(60)
        return 0
    if args.protocol is not None:  # a worker of another REO version
        out.write(
            json.dumps(
                {"type": "ready", "version": "0.0.1", "protocol": args.protocol, "pid": os.getpid()}
            )
            + "\n"
        )
        out.flush()
        time.sleep(60)
        return 0
    send(protocol.Ready("fake", protocol.PROTOCOL_VERSION, os.getpid()))
    cancels: dict = {}
    jobs: list = []
    worker = threading.Thread(target=work, args=(jobs, cancels, send, args), daemon=True)
    worker.start()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = protocol.parse_request(line)
        except protocol.ProtocolError as error:
            send(protocol.error_reply(error.request_id, error))
            continue
        body = request.body
        if request.op == "shutdown":
            send(protocol.result_of(request.id, body, {"shutdown": True}))
            time.sleep(args.exit_delay)
            return 0
        if request.op == "cancel":
            target = body.target
            if not args.ignore_cancel and target in cancels:
                cancels[target].set()
            send(
                protocol.result_of(
                    request.id, body, {"target": target, "canceled": target in cancels}
                )
            )
        elif request.op == "info":
            send(
                protocol.result_of(
                    request.id,
                    body,
                    {
                        "version": "fake",
                        "protocol": protocol.PROTOCOL_VERSION,
                        "pid": os.getpid(),
                        "python": sys.version.split()[0],
                        "torch": "none (fake worker)",
                        "cuda": None,
                        "cuda_available": False,
                        "gpu": None,
                        "device": "cpu",
                        "model_loaded": False,
                        "model": None,
                    },
                )
            )
        else:
            cancels[request.id] = threading.Event()
            jobs.append(request)
    return 0


def work(jobs, cancels, send, args) -> None:
    while True:
        if not jobs:
            time.sleep(0.01)
            continue
        request = jobs.pop(0)
        try:
            if request.op == "load_model":
                folder = request.body.model
                if not (Path(folder) / "reo_config.json").is_file():
                    raise ReoError(
                        f"{folder} is not a REO model folder: it has no reo_config.json."
                    )
                value = {
                    "folder": folder,
                    "modality": "ms",
                    "bands": ["B02", "B03", "B04"],
                    "uncertainty": "none",
                    "visual_token_pool": 1,
                    "device": "cpu",
                    "dtype": "float32",
                }
            elif request.op == "inspect":
                value = inspect(request)
            elif request.op == "estimate":
                value = estimate(request, cancels[request.id], send, args)
                if args.old_result:  # what a protocol-1 worker might send: files at the top
                    send(protocol.Result(request.id, {**value, "files": value["summary"]["files"]}))
                    continue
            else:
                value = ask(request)
            send(protocol.result_of(request.id, request.body, value))
        except Exception as error:  # the worker keeps serving
            send(protocol.error_reply(request.id, error))


def estimate(request, cancel, send, args) -> dict:
    from reo_core.infer.inputs import open_reader
    from reo_core.model.config import ReoConfig
    from reo_core.raster import PatchGridWriter

    spec = input_spec(request.body)
    out = Path(request.body.out)
    reader = open_reader(ReoConfig(), spec)
    for step in range(args.steps):
        if cancel.is_set():
            raise Canceled("Canceled; no output was written.")
        if args.crash and step == 1:
            print(
                "Traceback (most recent call last):\nRuntimeError: simulated crash",
                file=sys.stderr,
                flush=True,
            )
            os._exit(3)
        send(protocol.Progress(request.id, step / args.steps, f"{step} of {args.steps} steps"))
        time.sleep(args.delay)
    grid = reader.patch_grid.grid
    agb = np.full((grid.height, grid.width), -9999.0, dtype=np.float32)
    land = np.full((grid.height, grid.width), 255, dtype=np.uint8)
    for block in reader.blocks():
        red, nir = block.s2[..., 3, :, :], block.s2[..., 7, :, :]  # (R, C, 25, 25)
        ndvi = np.nanmean((nir - red) / (nir + red + 1e-6), axis=(-2, -1))
        rows, cols = (
            slice(block.row, block.row + block.n_rows),
            slice(block.col, block.col + block.n_cols),
        )
        agb[rows, cols] = np.where(block.keep, np.clip(ndvi * 300, 0, 500), -9999.0)
        land[rows, cols] = np.where(block.keep, np.where(ndvi > 0.5, 114, 30), 255)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"agb": out / "agb.tif", "land_cover": out / "land_cover.tif"}
    from reo_core.landcover import color_table

    for key, values, dtype, nodata in (
        ("agb", agb, "float32", -9999.0),
        ("land_cover", land, "uint8", 255),
    ):
        with PatchGridWriter(
            paths[key],
            grid,
            dtype,
            nodata,
            [key],
            colormap=color_table() if key == "land_cover" else None,
        ) as writer:
            writer.write(0, 0, values)
    valid = agb != -9999.0
    cell_ha = (grid.transform.a**2) / 10_000
    total = float(agb[valid].sum() * cell_ha)
    summary = {
        "patches": {"total": int(valid.size), "done": int(valid.sum())},
        "valid_area_ha": float(valid.sum() * cell_ha),
        "agb": {"unit": "Mg/ha", "mean": float(agb[valid].mean()), "total_mg": total},
        "carbon": {"fraction": 0.47, "total_mg": total * 0.47},
        "land_cover_area_ha": {
            str(c): {
                "name": "Closed forest, deciduous broad leaf"
                if c == 114
                else "Herbaceous vegetation",
                "area_ha": float((land == c).sum() * cell_ha),
            }
            for c in (114, 30)
            if (land == c).any()
        },
        "grid": {
            "crs": grid.crs.to_string(),
            "transform": list(grid.transform)[:6],
            "width": grid.width,
            "height": grid.height,
        },
        "files": {"agb": "agb.tif", "land_cover": "land_cover.tif"},
    }
    return {"out": str(out), "paths": {k: str(v) for k, v in paths.items()}, "summary": summary}


def inspect(request) -> dict:
    """The real decision of reo_core (as the worker's inspect), for the fake model's bands."""
    from reo_core.infer.inputs import inspect_inputs
    from reo_core.model.config import ReoConfig

    return inspect_inputs(ReoConfig(), input_spec(request.body))


def ask(request) -> dict:
    from pyproj import Transformer

    from reo_core.infer.inputs import open_reader
    from reo_core.model.config import ReoConfig

    body = request.body
    question = body.question
    grid = open_reader(ReoConfig(), input_spec(body)).patch_grid
    transformer = Transformer.from_crs(body.crs, grid.pixels.crs.to_string(), always_xy=True)
    x, y = transformer.transform(*body.point)
    row, col = grid.patch_at(x, y)
    patch = {
        "row": row,
        "col": col,
        "bounds": list(grid.patch_bounds(row, col)),
        "crs": grid.pixels.crs.to_string(),
        "valid_fraction": 1.0,
    }
    return {
        "question": question,
        "kind": "agb",
        "agb": 123.4,
        "agb_std": 5.6,
        "unit": "Mg/ha",
        "answer": f"Fake answer to: {question}",
        "generated": "",
        "patch": patch,
    }


if __name__ == "__main__":
    sys.exit(main())
