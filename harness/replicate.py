"""Deprecated alias (archbench 0.2 moved the replications driver to ``studies.replicate``; this alias goes in 0.3).

``python -m harness.replicate …`` still runs it, with one warning line. The harness may not import the studies (the
layering rule), so the alias forwards only when run as a program."""

if __name__ == "__main__":
    import runpy
    import sys

    print(
        "warning: `python -m harness.replicate` moved to `python -m studies.replicate` (the alias goes in 0.3)",
        file=sys.stderr,
    )
    runpy.run_module("studies.replicate", run_name="__main__", alter_sys=True)
