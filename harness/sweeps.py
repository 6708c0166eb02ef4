"""Deprecated alias (archbench 0.2 moved the claims' sweep driver to ``studies.sweeps``; this alias goes in 0.3).

``python -m harness.sweeps …`` still runs it, with one warning line. The harness may not import the studies (the
layering rule), so the alias forwards only when run as a program."""

if __name__ == "__main__":
    import runpy
    import sys

    print(
        "warning: `python -m harness.sweeps` moved to `python -m studies.sweeps` (the alias goes in 0.3)",
        file=sys.stderr,
    )
    runpy.run_module("studies.sweeps", run_name="__main__", alter_sys=True)
