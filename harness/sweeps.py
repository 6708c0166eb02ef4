"""Deprecated alias (archbench 0.2 moved the claims' sweep driver to ``studies.sweeps``; this alias goes in 0.3):
``python -m harness.sweeps``
still runs it, with one warning line, and imports nothing of the studies (the layering rule)."""

if __name__ == "__main__":
    from core.aliases import run_moved

    run_moved("harness.sweeps", "studies.sweeps")
