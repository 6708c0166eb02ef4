"""Case 9: SIGINT/SIGTERM are honoured wherever the run is — a training step, a validation pass, the test
evaluation, decoding, the probes — with exit 130, ``status: interrupted`` in the record, no traceback, and a
resume that duplicates nothing and keeps the speed numbers.

Signals are sent by the run itself at a named moment (:mod:`core.faults`), so each test hits the moment it
names; one test sends a real SIGTERM from outside during a long test evaluation.
"""

from __future__ import annotations

import csv
import json
import signal
import time

import pytest
import torch

from harness.signals import StopFlag, StopRequested
from harness.train import train
from tasks.decoding import beam_search, greedy
from tests.conftest import make_cfg
from tests.reliability.helpers import TINY, cli, launch, metric_lines
from tests.tasks.text_fixtures import TinySeq2Seq


def interrupted(proc, run, where: str) -> dict:
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "interrupted" and where in s["error"], s["error"]
    assert not any(k.startswith("test/") for k in s["metrics"])
    return s


def resumed_once(run) -> dict:
    proc = cli(run, *TINY, "trainer.resume=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "completed" and s["speed"]["step_ms"] is not None
    keys = [(step, split) for step, split, _ in metric_lines(run)]
    assert len(keys) == len(set(keys)) and keys.count((40, "test")) == 1
    with open(run / "metrics.csv") as f:
        rows = [(r["step"], r["split"], r["metric"]) for r in csv.DictReader(f)]
    assert len(rows) == len(set(rows))
    return s


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    s = train(make_cfg(tmp, *TINY, tiny=False))
    return s, metric_lines(tmp / "run")


@pytest.mark.parametrize(
    "fault, where",
    [
        ("test:2:SIGTERM", "during the test evaluation"),
        ("probes:5:SIGINT", "during the probes"),
        ("eval:2:SIGTERM", "at step 10"),
    ],
)
def test_a_signal_in_an_evaluation_or_the_probes_is_recorded_and_resumed(tmp_path, reference, fault, where):
    run = tmp_path / "run"
    interrupted(cli(run, *TINY, env={"ARCHBENCH_FAULT": fault}), run, where)
    s = resumed_once(run)
    assert s["metrics"] == reference[0]["metrics"]
    assert metric_lines(run) == reference[1]  # the cut validation pass reran on resume, nothing twice


def test_sigterm_in_training_checkpoints_without_a_validation_pass(tmp_path):
    run = tmp_path / "run"
    big_val = ["task.n_val=20000", "task.n_test=32"]  # a validation pass here would take seconds
    proc = cli(run, *TINY, *big_val, env={"ARCHBENCH_FAULT": "step:3:SIGTERM"})
    s = interrupted(proc, run, "SIGTERM at step 3")
    assert s["step"] == 3
    assert not (run / "metrics.jsonl").exists() or metric_lines(run) == []  # no validation line written
    ck = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 3


def test_a_real_sigterm_during_a_long_test_evaluation_stops_it(tmp_path):
    run = tmp_path / "run"
    proc = launch(run, *TINY, "task.n_test=400000", "trainer.eval_batch_size=2")  # 200,000 batches: minutes
    end = time.time() + 120
    while not any(
        step == 40 and split == "val"
        for step, split, _ in (metric_lines(run) if (run / "metrics.jsonl").exists() else [])
    ):
        assert proc.poll() is None and time.time() < end, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # inside the test evaluation now
    proc.send_signal(signal.SIGTERM)
    sent = time.time()
    out, err = proc.communicate(timeout=60)  # far less than the evaluation would take
    print(f"stopped {time.time() - sent:.1f} s after SIGTERM")  # shown with pytest -s; not asserted (timing)
    proc.stderr = err
    interrupted(proc, run, "during the test evaluation")


@pytest.mark.parametrize(
    "decode", [greedy, lambda m, s, *a, **k: beam_search(m, s, 3, *a, **k)], ids=["greedy", "beam"]
)
def test_decoding_stops_at_its_next_model_call_after_a_signal(decode):
    model = TinySeq2Seq(12, 12).eval()
    src = torch.randint(4, 12, (2, 5))
    stop = StopFlag()
    with stop.watching("test"):
        assert len(decode(model, src, 6, 1, 2)) == 2  # no signal: decodes as usual
        stop.reason = "SIGTERM"  # what the handler does
        with pytest.raises(StopRequested, match="SIGTERM"):
            decode(model, src, 6, 1, 2)
    decode(model, src, 6, 1, 2)  # outside an evaluation nothing is watched


def test_a_signal_stops_a_sweep_with_a_non_zero_exit(tmp_path):
    """SIGTERM during the first job of a two-job sweep: that job is recorded as interrupted, the second is never
    started, and the sweep exits 130 (it used to start the next job and exit 0)."""
    proc = cli(
        None,
        "-m",
        "hydra/launcher=basic",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *TINY,
        "seed=0,1",
        env={"ARCHBENCH_FAULT": "step:3:SIGTERM"},
    )
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "the sweep stops here" in proc.stderr and "Traceback" not in proc.stderr
    records = sorted((tmp_path / "sweep").glob("*/summary.json"))
    assert len(records) == 1 and json.loads(records[0].read_text())["status"] == "interrupted"
    assert not (tmp_path / "sweep" / "1").exists()


def test_a_sigterm_during_set_up_stops_it_at_once_with_one_line(tmp_path):
    """Case 20: set-up (data, tokenizer, model) made to last 10 minutes (``ARCHBENCH_SLOW=setup:600``) stops at a
    real SIGTERM, not after set-up: exit 130, one line, no record."""
    run = tmp_path / "run"
    p = launch(run, *TINY, env={"ARCHBENCH_SLOW": "setup:600"})
    end = time.time() + 120
    while not (run / ".archbench.lock").exists():  # the run holds its folder: set-up follows at once
        assert p.poll() is None and time.time() < end, p.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    sent = time.time()
    _, err = p.communicate(timeout=120)  # far less than the 600 s set-up
    print(f"stopped {time.time() - sent:.1f} s after SIGTERM")  # shown with pytest -s; not asserted (timing)
    assert p.returncode == 130, err[-3000:]
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == ["interrupted (SIGTERM) during set-up, before training; nothing was recorded"], lines
    assert not (run / "summary.json").exists() and not (run / "checkpoint.pt").exists()
