import json
from pathlib import Path

from harness.train import train


def test_default_config_trains_and_writes_summary(cfg_factory):
    cfg = cfg_factory("task=copy_long", "task.delay=5", "task.n_memorize=3")
    summary = train(cfg)
    on_disk = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert summary["status"] == on_disk["status"] == "completed"
    assert 0.0 <= on_disk["metrics"]["test/acc"] <= 1.0
