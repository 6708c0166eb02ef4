"""The training harness: one loop for every architecture × task, run records, checkpoints, probes."""

from core.errors import ConfigError, DivergedError

__all__ = ["ConfigError", "DivergedError", "train"]


def train(cfg):  # imported lazily so `import harness` stays light
    from harness.train import train as _train

    return _train(cfg)
