"""``python -m studies.claims runs/claims/<preset> [--out DIR] [--markdown-table [--brief]]``: verdicts on the
course text's claims."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from studies.claims.build import build_claims, markdown_table, no_records_error, verdict_text
from studies.cli import build_report, print_summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.claims", description=__doc__)
    p.add_argument("root", help="a claims sweep folder, e.g. runs/claims/quick")
    p.add_argument("--out", help="report folder (default: <root>/report)")
    p.add_argument("--preset", help="preset name recorded in claims.json (default: the folder's name)")
    p.add_argument(
        "--markdown-table",
        action="store_true",
        help="print the verdict table as Markdown (the README's) instead of the one-line summary",
    )
    p.add_argument(
        "--brief",
        action="store_true",
        help="with --markdown-table: only id, claim, verdict and agreement with the literature (the key numbers, "
        "δ and anchors are in claims.md)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(format="warning: %(message)s", level=logging.WARNING, stream=sys.stderr)
    root = Path(args.root)
    if not root.is_dir():
        print(
            f"error: {root} is not a folder; give the folder of a claims sweep (e.g. runs/claims/smoke)",
            file=sys.stderr,
        )
        return 2
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"error: --out {args.out} is a file; give a folder for the report (created if missing)", file=sys.stderr)
        return 2
    why = no_records_error(root)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    doc = build_report(build_claims, root, args.out, args.preset)
    if doc is None:
        return 2
    if args.markdown_table:
        print(markdown_table(doc, brief=args.brief), end="")
        return 0
    page = f"{Path(args.out) if args.out else root / 'report'}/claims.html"
    return print_summary((f"{c['id']:>4}  {verdict_text(c):<40.40}  {c['claim']}" for c in doc["claims"]), page)


if __name__ == "__main__":
    sys.exit(main())
