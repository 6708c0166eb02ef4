"""Deprecated alias package: the claims report moved to ``studies.claims`` (see its ``__main__``)."""
