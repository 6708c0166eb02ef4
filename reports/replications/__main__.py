"""Deprecated alias (archbench 0.2 moved the replications report to ``studies.replications``; this alias goes in 0.3).

``python -m reports.replications …`` still runs it, with one warning line. The reports may not import the studies (the
layering rule), so the alias forwards only when run as a program."""

if __name__ == "__main__":
    import runpy
    import sys

    print(
        "warning: `python -m reports.replications` moved to `python -m studies.replications` (the alias goes in 0.3)",
        file=sys.stderr,
    )
    runpy.run_module("studies.replications", run_name="__main__", alter_sys=True)
