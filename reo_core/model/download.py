"""Download a base model from the Hugging Face hub into REO's bases folder (the one network use).

    python -m reo_core.model.download llava-hf/llava-1.5-7b-hf [--to DIR]

Only what a llava-hf base needs is fetched (configs, safetensors weights, tokenizer files; never a
pickle). Without ``--to`` it goes to ``$REO_BASES/<owner>--<name>`` (default
``~/.cache/reo/bases``), where loading a model finds it by the hub id in its ``reo_config.json``.
Exit status 2 when the download cannot be done (the message says why), 0 when it is done.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from reo_core.errors import InputError, ReoError, exit_status
from reo_core.model.hub import BASE_FILES, check_base_folder, download_folder, is_hub_id

logger = logging.getLogger("reo_core.model.download")


def download(repo_id: str, folder: Path | None = None) -> Path:
    """Fetch ``repo_id``'s base files into ``folder`` (default: REO's bases folder)."""
    if not is_hub_id(repo_id):
        raise InputError(f"'{repo_id}' is not a Hugging Face model id (owner/name).")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise InputError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it for this command."
        )
    folder = folder or download_folder(repo_id)
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id, local_dir=str(folder), allow_patterns=list(BASE_FILES))
    except Exception as error:  # network, authentication, unknown repository
        raise InputError(
            f"Downloading {repo_id} failed: {str(error).splitlines()[0]}", details=str(error)
        ) from None
    check_base_folder(folder, f"downloaded from {repo_id} ({folder})")
    return folder


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="python -m reo_core.model.download",
        description="Download a llava-hf base model for REO (the only command that downloads).",
    )
    parser.add_argument("repo_id", help="e.g. llava-hf/llava-1.5-7b-hf")
    parser.add_argument("--to", type=Path, help="folder (default: REO's bases folder)")
    args = parser.parse_args(argv)
    try:
        folder = download(args.repo_id, args.to)
    except ReoError as error:
        return exit_status(error, logger)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
