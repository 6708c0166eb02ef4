"""What the report entry points (``python -m studies.claims``, ``python -m studies.replications``) share: build the
report, turning an OSError the user can put right into one ``error:`` line, then print one line per item and
where the report's page is."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.errors import OneLineOSError, or_one_line


def build_report(build: Callable[..., dict], *args) -> dict | None:
    """``build(*args)``: the report's document, or None once a full disk or a read-only ``--out`` has been said
    as one line naming the path (the entry point then exits 2)."""
    try:
        return or_one_line(build, *args)
    except OneLineOSError:
        return None


def print_summary(lines: Iterable[str], page: str) -> int:
    """One line per item of the report, then ``report: <page>``; exit status 0."""
    for line in lines:
        print(line)
    print(f"report: {page}")
    return 0
