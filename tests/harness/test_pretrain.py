"""Pre-training then fine-tuning: MLM and denoise train for every architecture; init_from loads exactly the
tensors that match by name and shape, reuses the source's tokenizer and records what it did; mismatches are
refused with one line before training; init_freeze trains only the new end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.errors import ConfigError
from core.record import setting_id
from harness import checkpoint
from harness.train import Trainer, train
from tests.conftest import ARCHS, ROOT
from tests.tasks.text_fixtures import sentiment_frame, write_folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretrain_data")
    frame = sentiment_frame()
    return {
        "folder": write_folder(root / "sent", {"train": sentiment_frame(2), "validation": frame, "test": frame}),
        "cache": root / "cache",
    }


def text_task(task: str, corpus: dict) -> list[str]:
    return [
        f"task={task}",
        f"task.data.path={corpus['folder']}",
        f"task.cache_dir={corpus['cache']}",
        "task.max_len=8",
        "trainer.stop_at=null",
    ]


def in_folder(cfg, folder: Path):
    cfg.run_dir = str(folder)
    return cfg


def pretrained(cfg_factory, tmp_path, corpus, arch="transformer") -> Path:
    cfg = in_folder(cfg_factory(f"arch={arch}", *text_task("mlm", corpus)), tmp_path / f"mlm_{arch}")
    train(cfg)
    return Path(cfg.run_dir)


@pytest.mark.parametrize("task", ["mlm", "denoise"])
@pytest.mark.parametrize("arch", ARCHS)
def test_pretraining_tasks_train_for_every_architecture(cfg_factory, corpus, arch, task):
    s = train(cfg_factory(f"arch={arch}", *text_task(task, corpus)))
    assert s["status"] == "completed" and s["step"] == 4
    assert {"test/acc", "test/loss", "test/perplexity"} <= set(s["metrics"])
    assert s["task_info"]["spec"]["output_kind"] == ("tokens" if task == "mlm" else "sequence")
    if task == "mlm":  # every default reads both sides: recurrent archs follow the task's preference
        assert s["arch_info"]["context"] == "bidirectional" and s["notes"] == []


def test_a_model_that_sees_only_the_left_context_says_so(cfg_factory, corpus, capsys):
    s = train(cfg_factory("arch=transformer", "arch.causal=true", *text_task("mlm", corpus)))
    assert s["arch_info"]["context"] == "causal"
    assert len(s["notes"]) == 1 and "only the left context" in s["notes"][0]
    assert capsys.readouterr().err.count("only the left context") == 1
    lstm = train(
        in_folder(
            cfg_factory("arch=lstm", "arch.bidirectional=false", *text_task("mlm", corpus)),
            Path(s["run_dir"]).parent / "lstm",
        )
    )
    assert lstm["arch_info"]["context"] == "causal" and lstm["notes"]


def test_recurrent_archs_read_one_way_for_sentiment_by_default(cfg_factory, corpus):
    s = train(cfg_factory("arch=rnn", *text_task("sentiment", corpus)))
    assert s["arch_info"]["context"] == "causal" and s["notes"] == []


def test_mlm_then_sentiment_fine_tune_end_to_end(cfg_factory, tmp_path, corpus):
    source = pretrained(cfg_factory, tmp_path, corpus, "lstm")
    assert (source / "tokenizer.json").is_file()
    cfg = cfg_factory("arch=lstm", *text_task("sentiment", corpus), f"init_from={source}")
    trainer = Trainer(cfg)  # before training: the matching tensors are the source's, the head is new
    weights = checkpoint.load(source / "checkpoint.pt")["model"]
    mine = trainer.model.state_dict()
    expected = sorted(k for k, v in weights.items() if k in mine and mine[k].shape == v.shape)
    assert expected and all(torch.equal(mine[k], weights[k]) for k in expected)
    assert trainer.init["loaded"] == expected
    assert set(trainer.init["new"]) == set(mine) - set(expected) and all(
        k.startswith("head.") for k in trainer.init["new"]
    )
    assert set(trainer.init["skipped"]) == set(weights) - set(expected)  # the MLM head stays behind
    assert trainer.model.describe()["context"] == "bidirectional"  # as pre-trained, though sentiment reads one way
    s = train(
        in_folder(cfg_factory("arch=lstm", *text_task("sentiment", corpus), f"init_from={source}"), tmp_path / "fine")
    )
    assert s["status"] == "completed" and s["init"]["loaded"] == expected
    assert s["init"]["source_task"] == "mlm" and s["init"]["source_arch"] == "lstm"
    assert s["init"]["from"] == str(source.resolve())
    src = json.loads((source / "summary.json").read_text())
    assert s["init"]["source_setting"] == setting_id(src["config"]) and s["init"]["source_steps"] == src["step"]
    assert s["task_info"]["tokenizer_file"] == str(source / "tokenizer.json")  # the source's vocabulary
    assert s["config"]["task"]["tokenizer"] == str(source / "tokenizer.json")  # and the record says so


def test_init_from_a_checkpoint_file_and_the_control_without_weights(cfg_factory, tmp_path, corpus):
    source = pretrained(cfg_factory, tmp_path, corpus)
    common = ["arch=transformer", *text_task("sentiment", corpus)]
    from_file = Trainer(cfg_factory(*common, f"init_from={source / 'checkpoint.pt'}"))
    assert from_file.init["loaded"] and from_file.init["from"] == str(source.resolve())
    control = Trainer(
        in_folder(cfg_factory(*common, f"init_from={source}", "init_weights=false"), tmp_path / "control")
    )
    assert control.init["loaded"] == [] and control.init["weights"].startswith("none")
    weights = checkpoint.load(source / "checkpoint.pt")["model"]
    assert not torch.equal(control.model.state_dict()["adapter.embed.emb.weight"], weights["adapter.embed.emb.weight"])
    assert control.task.spec.vocab_size == from_file.task.spec.vocab_size  # the source's tokenizer all the same


def test_init_freeze_trains_only_the_new_end(cfg_factory, tmp_path, corpus):
    source = pretrained(cfg_factory, tmp_path, corpus)
    weights = checkpoint.load(source / "checkpoint.pt")["model"]
    s = train(
        cfg_factory("arch=transformer", *text_task("sentiment", corpus), f"init_from={source}", "init_freeze=true")
    )
    after = checkpoint.load(Path(s["run_dir"]) / "checkpoint.pt")["model"]
    assert all(torch.equal(after[k], weights[k]) for k in s["init"]["loaded"])
    assert s["init"]["freeze"] and 0 < s["init"]["trainable_params"] < s["params"]
    first = Trainer(
        in_folder(
            cfg_factory("arch=transformer", *text_task("sentiment", corpus), f"init_from={source}"), tmp_path / "fresh"
        )
    )
    assert any(not torch.equal(after[k], first.model.state_dict()[k]) for k in s["init"]["new"])  # the head trained


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["arch=lstm"], "trained as arch=transformer"),
        (["arch=transformer", "task.tokenizer=bpe"], "tokenized with task.tokenizer=word"),
    ],
)
def test_mismatches_are_refused_before_training(cfg_factory, tmp_path, corpus, overrides, message):
    source = pretrained(cfg_factory, tmp_path, corpus)
    cfg = cfg_factory(*overrides, *text_task("sentiment", corpus), f"init_from={source}")
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (Path(cfg.run_dir) / "summary.json").exists() and not (Path(cfg.run_dir) / "checkpoint.pt").exists()


def test_a_task_without_the_source_vocabulary_is_refused(cfg_factory, tmp_path, corpus):
    source = pretrained(cfg_factory, tmp_path, corpus)
    with pytest.raises(ConfigError, match="vocabularies cannot match"):
        train(cfg_factory("arch=transformer", "task=copy_long", f"init_from={source}"))
    with pytest.raises(ConfigError, match="neither a run folder nor a checkpoint"):
        train(cfg_factory("arch=transformer", *text_task("sentiment", corpus), f"init_from={tmp_path / 'nothing'}"))


def test_run_py_refuses_another_architecture_in_one_line(cfg_factory, tmp_path, corpus):
    source = pretrained(cfg_factory, tmp_path, corpus)
    run_dir = tmp_path / "refused"
    out = subprocess.run(
        [
            sys.executable,
            "run.py",
            "arch=cnn",
            *text_task("sentiment", corpus),
            f"init_from={source}",
            f"run_dir={run_dir}",
            "trainer.progress=false",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error: init_from=")
    assert "use arch=transformer" in out.stderr and not (run_dir / "summary.json").exists()


def test_init_from_records_the_source_tokenizer_settings_it_uses(cfg_factory, tmp_path, corpus, capsys):
    """task.vocab_size / task.lowercase cannot apply with the source's saved tokenizer: one line says so and the
    record's config holds the values used (the source's), not the ignored ones."""
    source = pretrained(cfg_factory, tmp_path, corpus, "lstm")
    cfg = in_folder(
        cfg_factory(
            "arch=lstm",
            *text_task("sentiment", corpus),
            f"init_from={source}",
            "task.vocab_size=77",
            "task.lowercase=false",
        ),
        tmp_path / "fine",
    )
    s = train(cfg)
    err = [line for line in capsys.readouterr().err.splitlines() if "is ignored" in line]
    assert len(err) == 1 and "task.vocab_size=77 is ignored (20000" in err[0] and "task.lowercase=False" in err[0]
    assert (s["config"]["task"]["vocab_size"], s["config"]["task"]["lowercase"]) == (20000, True)
