"""The shared leaf: what tasks, architectures, the harness and the reports may all import.

It imports nothing of the project (and no torch): the errors told to users in one line (:mod:`core.errors`), the
fault points of the reliability tests (:mod:`core.faults`), atomic writes (:mod:`core.files`) and the run-record
format (:mod:`core.record`).
"""
