"""``run.py``'s command line, checked before Hydra reads it: what Hydra would refuse with a traceback, or accept
silently wrong, is one line saying what was wrong and what to type instead (exit 2).

* A non-ASCII character in an unquoted value (``hydra.run.dir=runs/abc_é``, ``task.data.path=/home/josé/…``):
  Hydra's lexer refuses it with ``LexerNoViableAltException``; quoting the value is the fix, said here.
* A path whose name is longer than the file system allows (``hydra.run.dir=<300 characters>``): ENAMETOOLONG
  raised inside Hydra, before the run (and its one-line OS errors) starts.
* A config folder of the user's (``--config-dir myconf``, ``hydra.searchpath=[file://myconf]``) holding a file
  named like a built-in one (``myconf/arch/lstm.yaml``): Hydra reads ``conf/`` first, so ``arch=lstm`` would run
  the built-in without a word. Refused, naming both files and the fix (another name).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from core.errors import cut

CONF = Path(__file__).resolve().parents[1] / "conf"
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
#: override keys whose values are paths (a name in them longer than the file system allows fails inside Hydra)
PATH_KEYS = re.compile(r"(^|\.)(dir|subdir|path|root|run_dir|sweep_root|init_from)$")
NAME_MAX, PATH_MAX = 255, 4096  # bytes: Linux's limits (os.pathconf where the folder exists)


def overrides_and_dirs(argv: list[str]) -> tuple[list[str], list[Path]]:
    """The ``key=value`` overrides of ``argv`` and the user's config folders (``--config-dir``)."""
    overrides, dirs, args = [], [], list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, value = arg.partition("=")
        if flag in CONFIG_DIR_FLAGS:
            if not eq and i + 1 < len(args):
                i, value = i + 1, args[i + 1]
            dirs.append(Path(value))
        elif not arg.startswith("-") and "=" in arg:
            overrides.append(arg)
        i += 1
    return overrides, dirs


def printable(text: str, limit: int = 160) -> str:
    """``text`` for one line: control characters escaped (``\\n``), cut at ``limit`` characters."""
    return cut("".join(c if c.isprintable() else repr(c)[1:-1] for c in text), limit)


def unquoted_non_ascii(override: str) -> str | None:
    """One line when Hydra's override parser refuses ``override`` for a non-ASCII character outside quotes."""
    if override.isascii():
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        OverridesParser.create().parse_override(override)
    except HydraException:
        key, _, value = (printable(part) for part in override.partition("="))
        char = next(c for c in override if not c.isascii())
        return (
            f"{key}={value}: Hydra reads the character {char!r} only inside quotes; quote the value: "
            f"'{key}=\"{value}\"' (on a shell command line, with the single quotes around it)"
        )
    return None


def name_too_long(override: str) -> str | None:
    """One line when a path value holds a name longer than the file system allows (255 bytes)."""
    key, _, value = override.partition("=")
    if not PATH_KEYS.search(key.lstrip("+~")):
        return None
    value = value.strip("'\"")
    long = next((part for part in value.split("/") if len(part.encode()) > NAME_MAX), None)
    if long is not None:
        return (
            f"{printable(key)}: the name {printable(long, 40)} is {len(long.encode())} bytes long; the file system "
            f"allows {NAME_MAX} bytes per name: choose a shorter one"
        )
    if len(value.encode()) > PATH_MAX:
        size = len(value.encode())
        return (
            f"{printable(key)}: the path is {size} bytes long; the file system allows {PATH_MAX}: choose a shorter one"
        )
    return None


def searchpath_dirs(overrides: list[str]) -> list[Path]:
    """The folders of ``hydra.searchpath=[file://a,file://b]`` (``pkg://`` entries are packages: left alone)."""
    dirs = []
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == "hydra.searchpath":
            for entry in value.strip("[]").split(","):
                entry = entry.strip().strip("'\"")
                if entry.startswith("file://"):
                    dirs.append(Path(entry.removeprefix("file://")))
    return dirs


def shadowed(dirs: list[Path], conf: Path = CONF) -> str | None:
    """One line for the first file of a user's config folder that a built-in file of ``conf/`` hides (Hydra reads
    ``conf/`` first: the user's would never be used)."""
    for folder in dirs:
        folder = folder.expanduser()
        if not folder.is_dir() or folder.resolve() == conf.resolve():
            continue
        for mine in sorted(folder.rglob("*.yaml")):
            rel = mine.relative_to(folder)
            if len(rel.parts) < 2:  # a primary config of the user's (config.yaml): chosen with --config-name
                continue
            if (conf / rel).exists():
                group, name = "/".join(rel.parts[:-1]), rel.stem
                return (
                    f"{mine} has the name of the built-in conf/{rel}, which Hydra reads first: {group}={name} would "
                    f"run the built-in, not yours; rename yours (e.g. {folder / rel.parent / ('my_' + rel.name)}, "
                    f"then {group}=my_{name})"
                )
    return None


def check(argv: list[str], conf: Path = CONF) -> str | None:
    """The first problem of ``run.py``'s command line as one line, or None."""
    overrides, dirs = overrides_and_dirs(argv)
    for override in overrides:
        line = unquoted_non_ascii(override) or name_too_long(override)
        if line:
            return line
    return shadowed(dirs + searchpath_dirs(overrides), conf)


def refuse_bad_command_line(argv: list[str]) -> None:
    """``run.py``: print the command line's problem as one ``error:`` line and exit 2 (nothing is read or run)."""
    line = check(argv)
    if line:
        print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2)
