"""The record writer on its own: ``summary.json`` from what a trainer measured, in the record's field order, read
back as the same RunRecord, handed to the loggers; a run that did not complete gives its status as the reason."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from core.record import RunRecord
from harness.record_writer import write_record
from harness.run_state import RunState
from tasks.base import TaskSpec


class Finished:
    def __init__(self):
        self.summaries = []

    def finish(self, summary):
        self.summaries.append(summary)


def trainer(tmp_path, status: str):
    cfg = OmegaConf.create(
        {
            "seed": 3,
            "trainer": {
                "stop_metric": "val/acc",
                "stop_at": 0.9,
                "select": "last",
                "grad_clip": None,
                "peak_tflops": None,
                "compile": False,
                "compile_mode": "default",
            },
        }
    )
    task = SimpleNamespace(
        describe=lambda: {"delay": 5},
        main_metric="acc",
        data_fingerprint=lambda: None,
        directions={"acc": "max"},
        spec=TaskSpec(input_kind="tokens", output_kind="tokens", vocab_size=10, max_len=7, num_classes=10),
    )
    meter = SimpleNamespace(summary=lambda flops, peak: {"step_ms": 2.0, "flops": flops})
    return SimpleNamespace(
        state=RunState(stop_reason="target", steps_to_target=4, time_to_target_s=1.5, eval_samples=10, eval_time_s=2.0),
        cfg=cfg,
        device=torch.device("cpu"),
        status=status,
        error=None if status == "completed" else "boom",
        arch_name="lstm",
        task_name="copy_long",
        params=123,
        run_dir=tmp_path,
        step=6,
        meter=meter,
        flops=1000,
        precision="fp32",
        precision_rule="the default",
        peak=SimpleNamespace(kind="rss"),
        task=task,
        decay_record=None,
        model=SimpleNamespace(describe=lambda: {"layers": 2}),
        init=None,
        notes=["a note"],
        budget=None,
        machine=SimpleNamespace(malloc="glibc"),
        summary_path=tmp_path / "summary.json",
        logbook=SimpleNamespace(loggers=Finished()),
    )


@pytest.mark.parametrize(("status", "reason"), [("completed", "target"), ("failed", "failed")])
def test_the_record_is_written_read_back_and_handed_to_the_loggers(tmp_path, status, reason):
    tr = trainer(tmp_path, status)
    summary = write_record(tr, time.perf_counter(), 4, {"test/acc": 0.5}, {"distance": 7}, 12.5)
    on_disk = json.loads(tr.summary_path.read_text())
    assert on_disk == json.loads(json.dumps(summary)) and tr.logbook.loggers.summaries == [summary]  # tuples: lists
    assert list(on_disk) == [f.name for f in dataclasses.fields(RunRecord) if f.name != "extra"]
    assert RunRecord.read(tr.summary_path).to_dict() == on_disk
    assert summary["stop_reason"] == reason and summary["status"] == status
    assert summary["long_range"] == {
        "distance": 7,
        "steps_to_target": 4,
        "time_to_target_s": 1.5,
        "target": {"metric": "val/acc", "value": 0.9},
    }
    assert summary["selection"] == {"weights": "last", "metric": "val/acc", "step": 4}
    assert summary["speed"]["eval_samples_per_s"] == 5.0 and summary["speed"]["peak_mem_mb"] == 12.5
    assert summary["task_info"]["delay"] == 5 and summary["task_info"]["spec"]["max_len"] == 7
    assert summary["env"]["malloc"] == "glibc" and summary["config"]["seed"] == summary["seed"] == 3
