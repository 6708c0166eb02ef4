"""Hydra finds launchers only in the ``hydra_plugins`` namespace package: this registers archbench's SLURM
launcher (harness/slurm.py), named by conf/hydra/launcher/slurm.yaml and slurm_cpu.yaml."""

from harness.slurm import SlurmLauncher


class ArchbenchSlurmLauncher(SlurmLauncher):
    pass
