"""Deprecated alias package: the replications report moved to ``studies.replications`` (see its ``__main__``)."""
