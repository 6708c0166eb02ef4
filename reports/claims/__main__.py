"""Deprecated alias (archbench 0.2 moved the claims report to ``studies.claims``; this alias goes in 0.3).

``python -m reports.claims …`` still runs it, with one warning line. The reports may not import the studies (the
layering rule), so the alias forwards only when run as a program."""

if __name__ == "__main__":
    import runpy
    import sys

    print(
        "warning: `python -m reports.claims` moved to `python -m studies.claims` (the alias goes in 0.3)",
        file=sys.stderr,
    )
    runpy.run_module("studies.claims", run_name="__main__", alter_sys=True)
