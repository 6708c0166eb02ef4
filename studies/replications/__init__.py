"""Replications: published results set beside archbench's own measurement of them (``python -m
studies.replications RUNS``). Each ``conf/replications/<name>.yaml`` names the paper, the published result and
where it is, our setting per preset, and the rule; the runs of replication ``<name>`` sit in ``RUNS/<name>/``."""
