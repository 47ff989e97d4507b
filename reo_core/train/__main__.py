"""`python -m reo_core.train --config FILE.yaml [key=value ...]`
(also under `accelerate launch -m`)."""

from __future__ import annotations

import argparse
import logging
import sys

from reo_core.errors import ReoError, exit_status
from reo_core.train.config import load_train_config

logger = logging.getLogger("reo_core.train")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.train",
        description="Train REO-VLM in two stages: LoRA on REO-Instruct dialogues, "
        "then the regression head on AGB. "
        "Run the same command again to continue an interrupted run.",
        epilog="Example: python -m reo_core.train --config configs/demo.yaml "
        "data=out/instruct steps=200",
    )
    parser.add_argument(
        "--config", help="a YAML preset (configs/tiny.yaml, configs/demo.yaml, configs/paper.yaml)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="delete what an earlier run wrote into the output folder and start over",
    )
    parser.add_argument(
        "overrides", nargs="*", help="settings as key=value, e.g. stage=2 model.lora_r=8"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_train_config(args.config, args.overrides)
        from reo_core.train.loop import train

        final = train(config, force=args.force)
    except ReoError as error:
        return exit_status(error, logger)
    logger.info("final model: %s", final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
