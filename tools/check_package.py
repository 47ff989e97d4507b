"""Check a plugin zip as the QGIS plugin repository checks an upload (plugins.qgis.org).

    python tools/check_package.py dist/reo.zip

The repository's validator (QGIS-Django, ``plugins/validator.py``) refuses a package that is over
25 MB, that is no valid zip, that holds paths with ``..`` or a leading ``/``, ``.pyc`` files or
``__MACOSX`` / ``.git`` / ``__pycache__`` folders, that has no single top folder named like a Python
package (new plugins: PEP 8, lowercase), no ``__init__.py``, no ``metadata.txt`` with a
``[general]`` section holding every required field, no ``LICENSE`` in the top folder, an author with
a slash or URLs without scheme and host. Its review also refuses compiled binaries (executables and
shared libraries: code that cannot be read). This script checks all of that, plus what QGIS itself
needs to install the zip (the icon named in metadata.txt exists, booleans and versions parse).
Only the reachability of the URLs, which needs the internet, is not checked here.

Prints one line per problem and exits 1 if there is any. Standard library only (``make package``
runs it with the system Python).
"""

from __future__ import annotations

import argparse
import configparser
import re
import sys
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

MAX_UPLOAD_BYTES = 25_000_000  # the repository's PLUGIN_MAX_UPLOAD_SIZE
REQUIRED_METADATA = (
    "name",
    "description",
    "version",
    "qgisMinimumVersion",
    "author",
    "email",
    "about",
    "tracker",
    "repository",
)
BOOLEAN_METADATA = ("experimental", "deprecated", "server", "hasProcessingProvider", "supportsQt6")
URL_METADATA = ("tracker", "repository", "homepage")
FORBIDDEN_FOLDERS = ("__MACOSX", ".git", "__pycache__")
PACKAGE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")  # PEP 8, required of new plugins
VERSION = re.compile(r"^\d+(\.\d+){0,2}([-.]?[A-Za-z0-9]+)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Compiled code: file suffixes and the magic bytes of executables and shared libraries.
BINARY_SUFFIXES = (
    ".so",
    ".dll",
    ".dylib",
    ".pyd",
    ".exe",
    ".pyc",
    ".pyo",
    ".o",
    ".a",
    ".lib",
    ".class",
    ".jar",
    ".msi",
    ".bat",
    ".cmd",
    ".com",
)
BINARY_MAGIC = {
    b"\x7fELF": "an ELF executable or library",
    b"MZ": "a Windows executable or DLL",
    b"\xfe\xed\xfa\xce": "a Mach-O binary",
    b"\xfe\xed\xfa\xcf": "a Mach-O binary",
    b"\xce\xfa\xed\xfe": "a Mach-O binary",
    b"\xcf\xfa\xed\xfe": "a Mach-O binary",
    b"\xca\xfe\xba\xbe": "a Mach-O universal binary or Java class",
}
TRUE_FALSE = ("true", "false", "yes", "no", "1", "0")


def check_package(path: Path) -> list[str]:
    """Every problem the plugin repository (or QGIS installing the zip) would find in ``path``."""
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        return [
            f"{path.name} is {path.stat().st_size / 1e6:.1f} MB; the repository takes at most "
            f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB"
        ]
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        return [f"{path.name} is not a valid zip: {error}"]
    with archive:
        problems = _entry_problems(archive)
        bad = archive.testzip()
        if bad is not None:
            problems.append(f"bad zip entry (CRC error): {bad}")
        names = archive.namelist()
        tops = sorted({name.split("/", 1)[0] for name in names})
        if not names or "/" not in names[0] or len(tops) != 1:
            return [*problems, f"the zip must hold exactly one top folder; it holds {tops}"]
        top = tops[0]
        if not PACKAGE_NAME.match(top):
            problems.append(f"the top folder '{top}' is not a PEP 8 package name (lowercase, _)")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{required}" not in names:
                problems.append(f"{top}/{required} is missing")
        if f"{top}/metadata.txt" in names:
            problems += _metadata_problems(archive, top)
    return problems


def _entry_problems(archive: zipfile.ZipFile) -> list[str]:
    problems = []
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name).parts
        if ".." in name or name.startswith("/") or "\\" in name:
            problems.append(f"path information in an entry name: {name}")
        if ".pyc" in name:
            problems.append(f"a .pyc file: {name}")
        for folder in FORBIDDEN_FOLDERS:
            if folder in parts:
                problems.append(f"a '{folder}' folder: {name}")
        if info.is_dir():
            continue
        if name.lower().endswith(BINARY_SUFFIXES):
            problems.append(f"a compiled binary or script launcher (not allowed): {name}")
            continue
        with archive.open(info) as handle:
            head = handle.read(4)
        for magic, what in BINARY_MAGIC.items():
            if head.startswith(magic) and not (magic == b"MZ" and _is_text(archive, info)):
                problems.append(f"{name} is {what} (compiled binaries are not allowed)")
        if (info.external_attr >> 16) & 0o111:
            problems.append(f"{name} is marked executable")
    return problems


def _is_text(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """A file starting with 'MZ' may still be text (a word); executables hold NUL bytes early."""
    with archive.open(info) as handle:
        return b"\0" not in handle.read(512)


def _metadata_problems(archive: zipfile.ZipFile, top: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive, as the repository reads them
    try:
        parser.read_string(archive.read(f"{top}/metadata.txt").decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error) as error:
        return [f"metadata.txt cannot be parsed: {error}"]
    if not parser.has_section("general"):
        return ["metadata.txt has no [general] section"]
    general = dict(parser.items("general"))
    problems = [
        f"metadata.txt lacks '{key}'"
        for key in REQUIRED_METADATA
        if not general.get(key, "").strip()
    ]
    for key in ("version", "qgisMinimumVersion", "qgisMaximumVersion"):
        value = general.get(key, "").strip()
        if value and not VERSION.match(value):
            problems.append(f"metadata.txt: {key}={value} is not a version")
    for key in BOOLEAN_METADATA:
        value = general.get(key, "").strip()
        if value and value.lower() not in TRUE_FALSE:
            problems.append(f"metadata.txt: {key}={value} is not a boolean (True/False)")
    if "/" in general.get("author", ""):
        problems.append("metadata.txt: the author cannot contain slashes")
    email = general.get("email", "").strip()
    if email and not EMAIL.match(email):
        problems.append(f"metadata.txt: email={email} is not an e-mail address")
    for key in URL_METADATA:
        url = general.get(key, "").strip()
        parsed = urlparse(url)
        if url and not (parsed.scheme in ("http", "https") and parsed.netloc):
            problems.append(f"metadata.txt: {key}={url} is not a http(s) URL")
    icon = general.get("icon", "").strip().removeprefix("./")
    if not icon:
        problems.append("metadata.txt names no icon")
    elif f"{top}/{icon}" not in archive.namelist():
        problems.append(f"the icon {icon} named in metadata.txt is not in the zip")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the plugin zip, e.g. dist/reo.zip")
    args = parser.parse_args(argv)
    if not args.package.is_file():
        print(f"{args.package} does not exist; build it with: make package", file=sys.stderr)
        return 2
    problems = check_package(args.package)
    for problem in problems:
        print(f"{args.package}: {problem}", file=sys.stderr)
    if problems:
        return 1
    size = args.package.stat().st_size / 1e6
    print(f"{args.package}: passes the plugin repository's upload checks ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
