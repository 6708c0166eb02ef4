"""Hydra's config groups are the registry: the architectures are ``conf/arch/*.yaml``, the tasks
``conf/task/*.yaml`` (one file each, named as on the command line: ``arch=gru``). Tests, sweeps and reports
take their lists from here instead of writing them by hand."""

from __future__ import annotations

from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "conf"


def names(group: str) -> list[str]:
    """The choices of a config group, sorted (``names("arch")`` → ``["cnn", "gru", …]``)."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))
