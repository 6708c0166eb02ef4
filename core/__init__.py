"""The shared leaf: what tasks, architectures, the harness and the reports may all import.

It imports nothing of the project (and no torch): the errors told to users in one line (:mod:`core.errors`), the
fault points of the reliability tests (:mod:`core.faults`), atomic writes (:mod:`core.files`), the run-record
format (:mod:`core.record`, its schema ``summary.schema.json``), linear CKA (:mod:`core.similarity`) and the
registry of config groups (:mod:`core.registry`).
"""
