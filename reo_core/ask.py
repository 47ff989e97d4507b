"""Ask a REO model a question about the patch under a point.

    python -m reo_core.ask --s2 PRODUCT.SAFE|FOLDER|ZIP|FILE... [--sar PATH...] --point X Y
        --crs CRS --question TEXT --model DIR [--device auto] [--json]
        (and the imagery options of predict: --band, --band-order, --boa-offset, --cloud-mask...)

AGB questions (biomass, AGB, Mg/ha, carbon) are answered by the regression head, with ± its
standard deviation when the model has the uncertainty head; other questions by generation. The
answer is printed; ``--json`` prints the whole result as JSON. Exit status 2 for inputs to change.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from reo_core.errors import InputError, ReoError, exit_status
from reo_core.infer.inputs import add_imagery_arguments

logger = logging.getLogger("reo_core.ask")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.ask", description="Ask about the 25x25-pixel patch under a point."
    )
    add = parser.add_argument
    add_imagery_arguments(parser)
    add("--point", nargs=2, type=float, required=True, metavar=("X", "Y"))
    add("--crs", required=True, help="CRS of --point, e.g. EPSG:4326 (x = longitude)")
    add("--question", required=True, help="the question, e.g. 'What is the biomass here?'")
    add("--model", type=Path, required=True, help="REO model folder")
    add(
        "--extent",
        nargs=4,
        type=float,
        metavar=("XMIN", "YMIN", "XMAX", "YMAX"),
        help="the extent of an estimate, to use its patch grid",
    )
    add("--extent-crs", help="CRS of --extent")
    add("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps")
    add("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    add("--max-new-tokens", type=int, default=64, help="longest answer (default 64)")
    add("--json", action="store_true", help="print the whole result as JSON")
    return parser


def run(ns: argparse.Namespace) -> dict:
    from reo_core.infer.engine import EngineOptions, load_engine
    from reo_core.infer.inputs import input_spec_from_args, make_extent
    from reo_core.infer.question import AskRequest, ask_patch

    if ns.extent is not None and not ns.extent_crs:
        raise InputError("--extent needs --extent-crs (e.g. --extent-crs EPSG:4326).")
    inputs = input_spec_from_args(ns, make_extent(ns.extent, ns.extent_crs))
    request = AskRequest(inputs, tuple(ns.point), ns.crs, ns.question, ns.max_new_tokens)
    engine = load_engine(ns.model, EngineOptions(device=ns.device, dtype=ns.dtype, batch_size=1))
    return ask_patch(engine, request)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ns = build_parser().parse_args(argv)
    try:
        result = run(ns)
    except ReoError as error:
        return exit_status(error, logger)
    print(json.dumps(result, indent=2) if ns.json else result["answer"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
