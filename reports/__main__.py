"""``python -m reports [RUN_DIRS…] [--out DIR]``: every summary.json under the folders → one report folder."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from core.errors import os_error_line
from core.record import METRICS, SUMMARY
from reports.build import build_report, default_out, terminal_summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    p.add_argument(
        "dirs", nargs="*", default=["runs"], help="folders searched recursively for summary.json (default: runs/)"
    )
    p.add_argument("--out", help="report folder (default: <first folder>/report)")
    args = p.parse_args(argv)
    for d in args.dirs:  # before anything is written: a typo must not create a report folder
        if not Path(d).is_dir():
            print(
                f"error: {d} is {'a file, not a folder' if Path(d).exists() else 'not a folder'}; give folders "
                "that hold run folders (e.g. runs/ or runs/sweeps/long_range)",
                file=sys.stderr,
            )
            return 2
    if not any(next(Path(d).rglob(name), None) for d in args.dirs for name in (SUMMARY, METRICS)):
        print(
            f"error: no run records (summary.json) under {', '.join(args.dirs)}; give the folder of a run or a "
            "sweep (e.g. runs/ or runs/sweeps/long_range), or run python run.py first",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out or default_out(args.dirs))
    if out.exists() and not out.is_dir():
        print(
            f"error: --out {out} is a file, not a folder; give a folder for the report (it is created if missing)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING, stream=sys.stderr)
    existed = out.exists()
    try:
        rep = build_report(args.dirs, out)
    except OSError as e:  # disk full, no permission: one line naming the path, no half report folder left
        line = os_error_line(e)
        if line is None:
            raise
        if not existed:
            shutil.rmtree(out, ignore_errors=True)
        print(f"error: {line}" + ("" if not existed else f" (the report in {out} is incomplete)"), file=sys.stderr)
        return 2
    print(terminal_summary(rep, args.dirs))
    return 0 if rep.counts["runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
