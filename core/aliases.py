"""Deprecated command aliases: ``python -m <old>`` runs ``python -m <new>`` with one warning line. The old module
calls :func:`run_moved` only when run as a program, so importing it loads nothing of the new place (the layering
rule: the harness and the reports never import the studies)."""

from __future__ import annotations

import runpy
import sys


def run_moved(old: str, new: str, until: str = "0.3") -> None:
    print(f"warning: `python -m {old}` moved to `python -m {new}` (the alias goes in {until})", file=sys.stderr)
    runpy.run_module(new, run_name="__main__", alter_sys=True)
