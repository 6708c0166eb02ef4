"""Aggregate archbench run records into tables, figures and an HTML page: ``python -m reports [RUN_DIRS…]``."""

from reports.build import build_report

__all__ = ["build_report"]
