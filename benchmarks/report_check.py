"""Render a report's index.html (or explore.html) in headless Chromium to a PNG, to look at it: the page is
the product.

    python benchmarks/report_check.py [REPORT_DIR_OR_HTML_FILE] [--out report.png]

Needs Debian's ``chromium`` (``apt-get install -y chromium``); no network is used (the page is self-contained).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(index: Path, png: Path, width: int = 1400, height: int = 3000, timeout: int = 120) -> Path:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("error: chromium not found; apt-get update && apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            index.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, timeout=timeout, capture_output=True)
    if not png.exists() or png.stat().st_size == 0:
        raise SystemExit(f"error: chromium wrote no screenshot to {png}")
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report", nargs="?", default="runs/report", help="report folder (its index.html) or an HTML file")
    p.add_argument("--out", help="PNG to write (default: <report>/screenshot.png)")
    p.add_argument("--height", type=int, default=3000)
    args = p.parse_args(argv)
    index = Path(args.report)
    index = index / "index.html" if index.is_dir() else index
    if not index.exists():
        print(f"error: {index} not found; run python -m reports first", file=sys.stderr)
        return 2
    png = Path(args.out) if args.out else index.parent / "screenshot.png"
    print(screenshot(index, png, height=args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
