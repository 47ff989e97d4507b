"""Build the installable plugin zip: ``dist/reo.zip`` with one top folder ``reo/``.

    python tools/package_plugin.py [--out dist/reo.zip]

Only what QGIS needs goes in (an allow-list: metadata, entry point, the two packages, resources,
requirements.txt for the runtime set-up); never tests, docs, benchmarks, configs, virtual
environments, outputs or caches. Entries are sorted and time-stamped from metadata.txt's version,
so the same tree always gives the same bytes. Uses the standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDER = "reo"
INCLUDE = (
    "__init__.py",
    "metadata.txt",
    "requirements.txt",
    "LICENSE",
    "reo_plugin",
    "reo_core",
    "resources",
)
EXCLUDE = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "*.aux.xml",
    "*.partial.tif",
    "*.partial.vrt",
    ".DS_Store",
    ".*",
)
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def plugin_files(root: Path = REPO_ROOT) -> list[Path]:
    """Files of the plugin, relative to ``root``, sorted."""
    files: list[Path] = []
    for name in INCLUDE:
        path = root / name
        if path.is_file():
            files.append(path.relative_to(root))
        elif path.is_dir():
            files += [
                p.relative_to(root)
                for p in path.rglob("*")
                if p.is_file() and not _excluded(p.relative_to(root))
            ]
    return sorted(files)


def build(out: Path, root: Path = REPO_ROOT) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in plugin_files(root):
            info = zipfile.ZipInfo(f"{TOP_FOLDER}/{relative.as_posix()}", FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / relative).read_bytes())
    partial.replace(out)
    return out


def _excluded(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in EXCLUDE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the REO plugin zip for QGIS.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / f"{TOP_FOLDER}.zip")
    args = parser.parse_args(argv)
    if not (REPO_ROOT / "resources" / "demo-model" / "model" / "reo_config.json").is_file():
        print(
            "warning: resources/demo-model/model is missing; the zip has no built-in model",
            file=sys.stderr,
        )
    out = build(args.out)
    with zipfile.ZipFile(out) as archive:
        count, size = len(archive.namelist()), sum(i.file_size for i in archive.infolist())
    print(
        f"wrote {out} ({count} files, {size / 1e6:.1f} MB unpacked, "
        f"{out.stat().st_size / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
