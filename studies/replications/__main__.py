"""``python -m studies.replications RUNS [--out DIR]``: the replications report of the runs under RUNS."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from studies.cli import build_report, print_summary
from studies.replications.build import build_replications


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.replications", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", help="the folder make replicate wrote (one sub-folder per replication)")
    p.add_argument("--out", default=None, help="where to write the report (default: RUNS/report)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    if not Path(args.runs).is_dir():
        print(f"error: {args.runs} is not a folder (give the folder make replicate wrote)", file=sys.stderr)
        return 2
    doc = build_report(build_replications, args.runs, args.out)
    if doc is None:
        return 2
    page = f"{Path(args.out) if args.out else Path(args.runs) / 'report'}/replications.html"
    return print_summary((f"{r['name']:<22} {r['outcome']:<24} {r['why'][:150]}" for r in doc["replications"]), page)


if __name__ == "__main__":
    sys.exit(main())
