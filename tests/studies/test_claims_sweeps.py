"""The claims sweep driver: tuning seed apart from the evidence, lr per arch and condition on validation loss, the
pre-sweep table, every registered arch, ``--only <claim>``; and the LSTM's forget-gate bias."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch

from core.errors import ConfigError
from studies import sweeps
from tests.conftest import ARCHS

CLAIMS = [f"C{i}" for i in range(1, 11)]


@pytest.mark.parametrize("name", ["smoke", "quick", "full"])
def test_presets_tune_apart_from_the_evidence_leave_delta_to_the_declarations_and_cover_every_claim(name):
    preset = sweeps.load_preset(name)
    seeds = str(preset["seeds"]).split(",")
    assert str(preset["tune_seed"]) not in seeds
    assert "deltas" not in preset  # δ is declared once, with each claim (studies/claims/registry.py)
    fed = {c for s in preset["sweeps"].values() for c in s["claims"]}
    assert fed == set(CLAIMS)
    for sweep in ("seq_scaling", "long_range", "pretrain_finetune"):  # family-comparing claims: the whole registry
        assert preset["sweeps"][sweep]["overrides"]["arch"].split(",") == sorted(ARCHS)


def test_a_tuning_seed_among_the_evidence_seeds_is_a_user_error(capsys):
    with pytest.raises(SystemExit) as e:
        sweeps.check_preset({"seeds": "0,1,2", "tune_seed": 0, "lr_grid": [0.001], "sweeps": {}}, "mine")
    assert e.value.code == 2 and "tune_seed 0 is also an evidence seed" in capsys.readouterr().err


def test_arch_all_is_every_registered_architecture():
    preset = sweeps.check_preset(
        {"seeds": "1", "sweeps": {"s": {"experiment": "long_range", "overrides": {"arch": "all"}}}}
    )
    assert preset["sweeps"]["s"]["overrides"]["arch"] == ",".join(sorted(ARCHS))


def test_conditions_are_the_multi_valued_axes_of_experiment_and_preset():
    assert sweeps.condition_keys({}, {"experiment": "claims_positions", "overrides": {"task.delay": 10}}) == [
        "arch.causal",
        "arch.pos_encoding",
    ]
    assert sweeps.condition_keys({}, {"experiment": "long_range", "overrides": {"task.delay": "5"}}) == []
    assert sweeps.condition_keys(
        {"common": {"trainer.max_steps": 9}}, {"experiment": "long_range", "overrides": {"task.delay": "5,20"}}
    ) == ["task.delay"]


def rows(*cells):
    return [
        {
            "arch": a,
            "task.delay": d,
            "lr": lr,
            "metric": "val/loss",
            "value": v,
            "status": "completed",
            "score": None if v is None else -v,
        }
        for a, d, lr, v in cells
    ]


def test_lr_is_chosen_per_arch_and_condition_on_validation_loss_ties_to_the_smaller():
    table = rows(
        ("lstm", 10, 0.01, 0.5),
        ("lstm", 10, 0.001, 0.9),  # delay 10: 0.01
        ("lstm", 50, 0.01, 2.0),
        ("lstm", 50, 0.001, 1.5),  # delay 50: 0.001 (not the pooled best)
        ("rnn", 10, 0.01, 0.3),
        ("rnn", 10, 0.003, 0.3),  # a tie goes to the smaller lr
        ("rnn", 50, 0.01, None),
        ("rnn", 50, 0.003, 1.0),
    )  # a failed run is never chosen
    choice = sweeps.choose_lr(table, ["task.delay"])
    got = {(c["arch"], c["condition"]["task.delay"]): c["lr"] for c in choice}
    assert got == {("lstm", 10): 0.01, ("lstm", 50): 0.001, ("rnn", 10): 0.003, ("rnn", 50): 0.003}
    assert sum(r["chosen"] for r in table) == 4
    launches = sweeps.main_launches(choice, ["task.delay"])  # one launch per arch and lr, its delays joined
    assert sorted((l["arch"], l["optimizer.lr"], l["task.delay"]) for l in launches) == [
        ("lstm", 0.001, "50"),
        ("lstm", 0.01, "10"),
        ("rnn", 0.003, "10,50"),
    ]
    two = sweeps.main_launches(
        [{"arch": "transformer", "condition": {"arch.causal": True, "x": None}, "lr": 0.1}], ["arch.causal", "x"]
    )
    assert two == [{"arch": "transformer", "optimizer.lr": 0.1, "arch.causal": "true", "x": "null"}]


def test_only_selects_sweeps_by_claim_id_or_name(capsys):
    preset = sweeps.load_preset("smoke")
    assert sweeps.selected(preset, "C5") == ["heads"]
    assert sweeps.selected(preset, "c6") == [
        "long_range",
        "locality",
        "locality_attention",
        "locality_sanity",
        "images",
    ]
    assert sweeps.selected(preset, "depth_bare,C1") == ["seq_scaling", "timing", "depth_bare"]
    with pytest.raises(SystemExit) as e:
        sweeps.selected(preset, "C11")
    assert e.value.code == 2 and "C11" in capsys.readouterr().err


def test_the_presweep_runs_on_the_tuning_seed_and_writes_its_table(tmp_path):
    """A real (tiny) pre-sweep and main sweep: rnn on copy_long at two delays and two learning rates."""
    preset = {
        "seeds": "1",
        "tune_seed": 0,
        "lr_grid": [0.001, 0.03],
        "lr_above": [0.1],
        "lr_steps": 2,
        "common": {
            "trainer.max_steps": 2,
            "trainer.eval_every": 2,
            "trainer.batch_size": 4,
            "trainer.progress": False,
            "trainer.probes": False,
            "budget.params": None,
            "task.n_memorize": 2,
            "task.n_val": 8,
            "task.n_test": 8,
            "trainer.threads": 1,
        },
    }
    sweep = {"experiment": "long_range", "tune_lr": True, "overrides": {"arch": "rnn", "task.delay": "3,4"}}
    assert sweeps.run_sweep("copy", sweep, preset, tmp_path, "basic") == []
    folder = tmp_path / "copy"
    table = list(csv.DictReader((folder / "lr_presweep.csv").open()))
    grid = {("3", "0.001"), ("3", "0.03"), ("4", "0.001"), ("4", "0.03")}
    loss = {(r["task.delay"], r["lr"]): float(r["value"]) for r in table}
    # a delay whose grid choice was the top (0.03) also ran 0.1 (lr_above); the other delay did not
    top = {d for d in ("3", "4") if loss[(d, "0.03")] < loss[(d, "0.001")]}
    assert set(loss) == grid | {(d, "0.1") for d in top}
    assert all(r["metric"] == "val/loss" and float(r["value"]) > 0 for r in table)
    assert sum(int(r["chosen"]) for r in table) == 2  # one lr per delay
    saved = json.loads((folder / "lr_choice.json").read_text())
    assert saved["tune_seed"] == 0 and saved["condition_keys"] == ["task.delay"] and len(saved["choice"]) == 2
    pre = [json.loads(p.read_text()) for p in (folder / "lr").rglob("summary.json")]
    main = [json.loads(p.read_text()) for p in folder.glob("arch=*/**/summary.json")]
    assert {r["config"]["seed"] for r in pre} == {0} and {r["config"]["seed"] for r in main} == {1}
    chosen = {int(c["condition"]["task.delay"]): c["lr"] for c in saved["choice"]}
    assert {(r["config"]["task"]["delay"], r["config"]["optimizer"]["lr"]) for r in main} == set(chosen.items())


def test_the_lstm_forget_gate_bias_is_set_and_only_for_lstm():
    from architectures.lstm import LSTM
    from architectures.rnn import RNN

    args = dict(hidden=6, n_layers=2, bidirectional=False, dropout=0.0, input_feeding=False)
    lstm = LSTM(10, forget_bias=1.0, **args)
    for layer in lstm.layers:
        b = layer.rnn.bias_ih_l0 + layer.rnn.bias_hh_l0  # gates i, f, g, o
        assert torch.allclose(b[6:12], torch.ones(6)) and not torch.allclose(b[:6], torch.ones(6))
    with pytest.raises(ConfigError, match="forget_bias"):
        RNN(10, forget_bias=1.0, **args)
    plain = LSTM(10, forget_bias=None, **args).layers[0].rnn
    assert not torch.allclose((plain.bias_ih_l0 + plain.bias_hh_l0)[6:12], torch.ones(6))


def test_the_full_depth_sweep_crosses_lr_warmup_and_clipping_with_block_and_depth():
    """C10 (Xiong et al. 2020): the verdict is on the largest stable lr per block and depth, not one lr."""
    preset = sweeps.load_preset("full")
    assert sweeps.condition_keys(preset, preset["sweeps"]["depth"]) == [
        "arch.n_layers",
        "block",
        "trainer.grad_clip",
        "trainer.warmup_steps",
    ]  # optimizer.lr: a factor, not tuned
    over = preset["sweeps"]["depth"]["overrides"]
    assert len(over["optimizer.lr"].split(",")) >= 3 and over["trainer.warmup_steps"] == "0,100"
    assert over["trainer.grad_clip"] == "null,1.0" and preset["sweeps"]["depth"]["tune_lr"] is False


def test_a_serial_sweep_runs_one_at_a_time_with_every_thread():
    """C1's timing: Hydra's basic launcher (no joblib), trainer.threads unset whatever the preset's common says;
    an explicit cluster launcher is kept."""
    sweep = {"experiment": "seq_scaling", "serial": True, "overrides": {"arch": "rnn"}}
    got, launcher = sweeps.serial_sweep(sweep, None)
    assert launcher == "basic" and got["overrides"] == {"arch": "rnn", "trainer.threads": None}
    assert "trainer.threads=null" in sweeps.overrides_of({"common": {"trainer.threads": 1}}, got)
    assert sweeps.serial_sweep(sweep, "slurm")[1] == "slurm"
    plain = {"experiment": "seq_scaling", "overrides": {"arch": "rnn"}}
    assert sweeps.serial_sweep(plain, None) == (plain, None)
    for name in ("smoke", "quick", "full"):  # the presets time C1 serially, to a target, at the lr that gets there
        preset = sweeps.load_preset(name)  # soonest (its own pre-sweep), not the lr chosen for loss
        timing = preset["sweeps"]["timing"]
        assert preset["sweeps"]["seq_scaling"]["serial"] and timing["serial"] and timing["lr_by"] == "steps_to_target"
        assert timing["overrides"]["trainer.stop_at"] == 0.99 and "lr_from" not in timing
        assert timing["overrides"]["arch"].split(",") == sorted(ARCHS)


def test_time_to_target_ranks_learning_rates_by_the_steps_that_reach_it(tmp_path, capsys):
    """C1's lr: reaching the target beats not reaching it, fewer steps beat more, the loss breaks the rest; the
    pre-sweep keeps the sweep's stop target; lr_by without a target is one line, exit 2."""

    def run(lr, steps, loss):
        return {"arch": "lstm", "lr": lr, "score": (1, -steps, -loss) if steps else (0, 0, -loss)}

    rows = [run(0.001, None, 0.1), run(0.003, 300, 0.3), run(0.01, 150, 0.4), run(0.03, None, 0.05)]
    assert sweeps.choose_lr(rows, [])[0]["lr"] == 0.01
    none = [run(0.001, None, 0.2), run(0.01, None, 0.1)]
    assert sweeps.choose_lr(none, [])[0]["lr"] == 0.01
    with pytest.raises(SystemExit) as e:
        sweeps.check_preset({"sweeps": {"t": {"lr_by": "steps_to_target", "overrides": {}}}}, "mine")
    assert e.value.code == 2 and "trainer.stop_at" in capsys.readouterr().err


def test_a_borrowed_lr_is_the_source_sweeps_choice_at_the_matching_condition(tmp_path):
    choice = [
        {"arch": a, "condition": {"task.delay": d}, "lr": lr}
        for a, d, lr in [("rnn", 5, 0.01), ("rnn", 20, 0.001), ("lstm", 5, 0.003)]
    ]
    (tmp_path / "long_range").mkdir()
    (tmp_path / "long_range" / "lr_choice.json").write_text(
        json.dumps({"condition_keys": ["task.delay"], "choice": choice})
    )
    sweep = {"lr_from": "long_range", "overrides": {"arch": "rnn,lstm,gru", "task.delay": 5}}
    launches, problem = sweeps.borrowed_lr(sweep, tmp_path)
    assert launches == [{"arch": "rnn", "optimizer.lr": 0.01}, {"arch": "lstm", "optimizer.lr": 0.003}]
    assert "gru" in problem and "task.delay=5" in problem
    launches, problem = sweeps.borrowed_lr(sweep, tmp_path / "elsewhere")
    assert launches is None and "--only long_range" in problem


def test_a_timing_run_is_serial_unthreaded_at_the_borrowed_lr_and_names_its_device(tmp_path):
    """A real (tiny) timing sweep: one rnn run at the lr long_range chose for its delay."""
    (tmp_path / "long_range").mkdir()
    (tmp_path / "long_range" / "lr_choice.json").write_text(
        json.dumps(
            {"condition_keys": ["task.delay"], "choice": [{"arch": "rnn", "condition": {"task.delay": 3}, "lr": 0.02}]}
        )
    )
    preset = {
        "seeds": "1",
        "common": {
            "trainer.threads": 1,
            "trainer.max_steps": 2,
            "trainer.eval_every": 2,
            "trainer.batch_size": 4,
            "trainer.progress": False,
            "budget.params": None,
            "task.n_memorize": 2,
            "task.n_val": 8,
            "task.n_test": 8,
        },
    }
    sweep = {
        "experiment": "long_range",
        "serial": True,
        "lr_from": "long_range",
        "overrides": {
            "arch": "rnn",
            "task.delay": 3,
            "trainer.stop_at": 0.99,
            "trainer.probes": False,
            "callbacks.early_gradient.step": None,
        },
    }
    assert sweeps.run_sweep("timing", sweep, preset, tmp_path, None) == []
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "timing").rglob("summary.json")]
    assert record["config"]["trainer"]["threads"] is None and record["config"]["optimizer"]["lr"] == 0.02
    fresh = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # a process left to its default
    assert record["env"]["threads"] == int(fresh) and record["env"]["device_name"]


@pytest.mark.parametrize("name", ["smoke", "quick"])
def test_c6_rows_are_parameter_matched_a_cnn_covering_each_distance_and_a_blind_sanity_row(name, cfg_factory):
    """C6 (Bai et al. 2018): cnn depths whose receptive field covers the copy distance, a one-layer transformer,
    all at one budget (±10%); the blind cnn only in the sweep named as the sanity row."""
    from harness import budget
    from harness.train import build

    sweeps_ = sweeps.load_preset(name)["sweeps"]
    rows = {n: sweeps_[n]["overrides"] for n in ("locality", "locality_attention", "locality_sanity")}
    assert all(set(s["claims"]) == {"C6"} for n, s in sweeps_.items() if n.startswith("locality"))
    covers, params = {}, []
    for sweep, over in rows.items():
        for layers in str(over["arch.n_layers"]).split(","):
            for delay in str(over["task.delay"]).split(","):
                cfg = cfg_factory(
                    f"arch={over.get('arch', 'cnn')}",
                    "task=copy_long",
                    f"task.delay={delay}",
                    f"arch.n_layers={layers}",
                    f"budget.params={over['budget.params']}",
                    tiny=False,
                )
                task = build(cfg.task, "task")
                fitted = budget.fit(cfg, task.spec, lambda node, spec: build(node, "arch", spec=spec))
                model = build(budget.sized(cfg.arch, fitted), "arch", spec=task.spec)
                params.append(budget.count_params(model))
                if sweep != "locality_attention":
                    field = model.describe()["receptive_field"]
                    reach = field - 1 if cfg.arch.causal else (field - 1) // 2  # centred when not causal
                    distance = int(delay) + cfg.task.n_memorize  # from the source to where it is written
                    covers.setdefault((sweep, delay), []).append(reach >= distance)
    budget_ = rows["locality"]["budget.params"]
    assert all(abs(p - budget_) <= 0.1 * budget_ for p in params)  # every row at the one budget, ±10%
    delays = str(rows["locality"]["task.delay"]).split(",")
    assert all(any(covers[("locality", d)]) for d in delays)  # a cnn deep enough for every distance
    assert not any(covers[("locality_sanity", d)][0] for d in delays)  # the sanity row is blind at each
    if len(delays) > 1:  # depth against distance: some depth covers the shorter distance and not the longer
        assert not all(all(c) for k, c in covers.items() if k[0] == "locality")


@pytest.mark.parametrize("name", ["smoke", "quick", "full"])
def test_c8_has_a_compute_matched_scratch_run_as_long_as_pretraining_and_fine_tuning(name):
    """C8 (Amos et al. 2023): beside scratch at the fine-tune's budget, scratch trained for the MLM steps plus the
    fine-tune's, in its own folder (its step count is in the path), at 10% of the labels."""
    from hydra import compose, initialize_config_dir

    preset = sweeps.load_preset(name)
    sweep = preset["sweeps"]["pretrain_finetune"]
    stages = {s.get("role", s["stage"]): s for s in sweep["stages"]}
    assert set(stages) == {"mlm", "finetune", "scratch_matched"}
    with initialize_config_dir(config_dir=str(sweeps.ROOT / "conf"), version_base="1.3"):
        steps = {
            role: compose(
                config_name="config",
                overrides=[
                    f"experiment={sweep['experiment']}",
                    f"stage={s['stage']}",
                    *(
                        f"{k}={sweeps.text(v)}"
                        for k, v in {**(preset.get("common") or {}), **s.get("overrides", {})}.items()
                        if "," not in str(v)
                    ),
                ],
            ).trainer.max_steps
            for role, s in stages.items()
        }
    matched = stages["scratch_matched"]["overrides"]
    assert steps["scratch_matched"] == steps["mlm"] + steps["finetune"]
    assert matched["init_weights"] is False and str(matched["task.train_fraction"]) == "0.1"
    assert stages["scratch_matched"]["stage"] == "finetune"
    line = sweeps.overrides_of(preset, sweep, {"stage": "finetune", **matched})
    assert "init_weights=false" in line and f"trainer.max_steps={steps['scratch_matched']}" in line


def test_a_borrowed_lr_whose_source_never_ran_runs_the_source_pre_sweep_first(tmp_path, monkeypatch):
    """``--only C1``: the timing sweep borrows long_range's lr; with no lr_choice.json yet, long_range's pre-sweep
    (tune seed, lr grid, short) runs into <out>/long_range/lr first, and not long_range's main sweep."""
    calls = []
    monkeypatch.setattr(sweeps, "launch", lambda exp, folder, over, launcher: calls.append((exp, folder, over)) or 0)
    preset = sweeps.check_preset(
        {
            "seeds": "1,2",
            "tune_seed": 0,
            "lr_grid": [0.001, 0.01],
            "lr_steps": 5,
            "sweeps": {
                "long_range": {"experiment": "long_range", "overrides": {"arch": "rnn", "task.delay": "5,20"}},
                "timing": {
                    "experiment": "long_range",
                    "serial": True,
                    "lr_from": "long_range",
                    "overrides": {"arch": "rnn", "task.delay": 5},
                },
            },
        }
    )
    problems = sweeps.run_sweep("timing", preset["sweeps"]["timing"], preset, tmp_path, None)
    (exp, folder, over), *rest = calls
    assert exp == "long_range" and folder == tmp_path / "long_range" / sweeps.LR_PRESWEEP
    assert "seed=0" in over and "optimizer.lr=0.001,0.01" in over and "trainer.max_steps=5" in over
    assert rest == []  # no run trained in the fake pre-sweep: no lr, so no timing run, and the problem says so
    assert (tmp_path / "long_range" / "lr_choice.json").exists()
    assert any("no learning rate" in p and "rnn" in p for p in problems)


def staged_preset() -> dict:
    return sweeps.check_preset(
        {
            "seeds": "1,2",
            "tune_seed": 0,
            "lr_grid": [0.001, 0.003],
            "lr_steps": 7,
            "sweeps": {
                "pretrain_finetune": {
                    "experiment": "pretrain_finetune",
                    "overrides": {"arch": "lstm,rnn"},
                    "stages": [
                        {"stage": "mlm", "overrides": {"trainer.max_steps": 40}},
                        {"stage": "finetune", "tune_lr": True, "overrides": {"trainer.max_steps": 20}},
                        {
                            "stage": "finetune",
                            "lr_from_stage": "finetune",
                            "overrides": {"init_weights": False, "task.train_fraction": 0.1, "trainer.max_steps": 60},
                        },
                    ],
                }
            },
        }
    )


def test_a_tuned_stage_gets_its_lr_per_arch_and_condition_from_a_pre_sweep_on_the_tune_seed(tmp_path, monkeypatch):
    """C8: fine-tuning's lr per arch × (pre-trained or scratch) × label fraction, picked on the tuning seed (whose
    MLM run the earlier stage therefore also makes); the compute-matched scratch stage borrows the (scratch, 0.1)
    choice."""
    calls = []
    monkeypatch.setattr(sweeps, "launch", lambda exp, folder, over, launcher: calls.append((folder, over)) or 0)
    preset = staged_preset()
    sweep = preset["sweeps"]["pretrain_finetune"]
    assert sweeps.stage_condition_keys(sweep, sweep["stages"][1]) == ["init_weights", "task.train_fraction"]
    # the pre-sweep alone: no records come back from the fake launch, so no choice and no main runs
    problems = sweeps.run_sweep("pretrain_finetune", sweep, preset, tmp_path, None)
    (mlm_folder, mlm), (pre_folder, pre) = calls[:2]
    assert mlm_folder is None and "stage=mlm" in mlm and "seed=1,2,0" in mlm  # evidence seeds + the tuning seed
    assert pre_folder == tmp_path / "pretrain_finetune" / sweeps.LR_PRESWEEP / "finetune"
    assert {
        "stage=finetune",
        "seed=0",
        "optimizer.lr=0.001,0.003",
        "trainer.max_steps=7",
        "trainer.stop_at=null",
    } <= set(pre)
    assert len(calls) == 2 and any("no learning rate of stage finetune" in p for p in problems)
    saved = json.loads((tmp_path / "pretrain_finetune" / "lr_choice.json").read_text())
    assert saved["stage"] == "finetune" and saved["choice"] == []
    calls.clear()  # an empty choice is not reused: the next call runs the pre-sweep again
    sweeps.run_sweep("pretrain_finetune", sweep, preset, tmp_path, None)
    assert [folder for folder, _ in calls] == [None, pre_folder]
    # with a choice made: one launch per arch and cell at its lr; the matched stage at the (scratch, 0.1) lr
    choice = [
        {"arch": a, "condition": {"init_weights": w, "task.train_fraction": f}, "lr": lr}
        for a, lr0 in (("lstm", 0.001), ("rnn", 0.003))
        for w in (False, True)
        for f, lr in ((0.1, lr0), (1.0, 0.003))
    ]
    (tmp_path / "pretrain_finetune" / "lr_choice.json").write_text(
        json.dumps(
            {
                "stage": "finetune",
                "condition_keys": ["init_weights", "task.train_fraction"],
                "choice": choice,
                "complete": True,
            }
        )
    )
    calls.clear()
    assert sweeps.run_sweep("pretrain_finetune", sweep, preset, tmp_path, None) == []
    mlm, *tuned, lstm_matched, rnn_matched = [over for _, over in calls]
    # cells at one lr that form a product go in one launch: lstm's two lrs each cover both starts at one fraction,
    # rnn's one lr covers all four cells
    assert "seed=1,2,0" in mlm and len(tuned) == 3
    assert all("seed=1,2" in t and "stage=finetune" in t and "trainer.max_steps=20" in t for t in tuned)
    assert {"arch=lstm", "optimizer.lr=0.001", "init_weights=false,true", "task.train_fraction=0.1"} <= set(tuned[0])
    assert {"arch=lstm", "optimizer.lr=0.003", "init_weights=false,true", "task.train_fraction=1.0"} <= set(tuned[1])
    assert {"arch=rnn", "optimizer.lr=0.003", "init_weights=false,true", "task.train_fraction=0.1,1.0"} <= set(tuned[2])
    assert {"arch=lstm", "optimizer.lr=0.001", "trainer.max_steps=60", "init_weights=false"} <= set(lstm_matched)
    assert {"arch=rnn", "optimizer.lr=0.003"} <= set(rnn_matched)


def test_cells_at_one_lr_that_do_not_form_a_product_are_launched_one_by_one():
    """A product over both keys would add (True, 1.0), chosen at another lr: those cells go one launch each."""
    cell = lambda w, f, lr: {"arch": "gru", "condition": {"init_weights": w, "task.train_fraction": f}, "lr": lr}
    choice = [cell(False, 0.1, 0.001), cell(True, 0.1, 0.001), cell(False, 1.0, 0.001), cell(True, 1.0, 0.01)]
    launches = sweeps.main_launches(choice, ["init_weights", "task.train_fraction"])
    assert launches == [
        {"arch": "gru", "optimizer.lr": 0.001, "init_weights": "false", "task.train_fraction": "0.1"},
        {"arch": "gru", "optimizer.lr": 0.001, "init_weights": "true", "task.train_fraction": "0.1"},
        {"arch": "gru", "optimizer.lr": 0.001, "init_weights": "false", "task.train_fraction": "1.0"},
        {"arch": "gru", "optimizer.lr": 0.01, "init_weights": "true", "task.train_fraction": "1.0"},
    ]
    one_key = sweeps.main_launches([cell(False, 0.1, 0.001), cell(False, 1.0, 0.001)], ["task.train_fraction"])
    assert one_key == [{"arch": "gru", "optimizer.lr": 0.001, "task.train_fraction": "0.1,1.0"}]


def test_a_preset_that_still_declares_deltas_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        sweeps.check_preset({"seeds": "1", "deltas": {"C4": 0.3}, "sweeps": {}}, "mine")
    assert e.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "mine: `deltas` is no longer read from a preset" in line and "registry.py" in line


def test_the_presweep_trains_to_the_evidence_runs_horizon(capsys):
    """``lr_steps: horizon``: the lr is chosen at the step count of the runs it is chosen for (stage's, then
    sweep's, else the experiment's own), so a choice read at 100 steps never decides 600-step runs."""
    preset = {"lr_steps": "horizon"}
    sweep = {"overrides": {"trainer.max_steps": 400}}
    assert sweeps.presweep_steps(preset, sweep) == {"trainer.max_steps": 400}
    stage = {"stage": "finetune", "overrides": {"trainer.max_steps": 150}}
    assert sweeps.presweep_steps(preset, sweep, stage) == {"trainer.max_steps": 150}
    assert sweeps.presweep_steps(preset, {"overrides": {}}) == {}
    assert sweeps.presweep_steps({"lr_steps": 7}, sweep) == {"trainer.max_steps": 7}
    assert sweeps.load_preset("quick")["lr_steps"] == "horizon"
    with pytest.raises(SystemExit) as e:
        sweeps.check_preset({"lr_steps": "soon", "sweeps": {}}, "mine")
    assert e.value.code == 2 and "lr_steps 'soon'" in capsys.readouterr().err


def test_a_choice_at_the_top_of_the_grid_tries_the_rates_above_it_for_that_cell_only(tmp_path, monkeypatch):
    """``lr_above``: the cell (arch × condition) whose best lr is the grid's largest also runs the rates above it,
    and its choice may move there; a cell chosen inside the grid runs nothing more."""
    calls = []
    monkeypatch.setattr(sweeps, "launch", lambda exp, folder, over, launcher: calls.append((folder, over)) or 0)
    # validation loss per (delay, lr): at delay 5 the grid's top is best and 0.1 better still; at 20, 0.001 is best
    loss = {(5, 0.001): 0.9, (5, 0.01): 0.5, (5, 0.1): 0.2, (20, 0.001): 0.3, (20, 0.01): 0.6, (20, 0.1): 0.1}

    def table(folder, keys, by=None):
        lrs = {0.1} if folder.name == "above" else {0.001, 0.01} | ({0.1} if calls[1:] else set())
        return [
            {
                "arch": "rnn",
                "task.delay": d,
                "lr": lr,
                "metric": "val/loss",
                "value": v,
                "status": "completed",
                "score": -v,
            }
            for (d, lr), v in loss.items()
            if lr in lrs and (lr != 0.1 or d == 5)  # only the extension for delay 5 ever ran
        ]

    monkeypatch.setattr(sweeps, "lr_table", table)
    preset = sweeps.check_preset(
        {"seeds": "1", "tune_seed": 0, "lr_grid": [0.001, 0.01], "lr_above": [0.1], "lr_steps": 5, "sweeps": {}}
    )
    sweep = {"experiment": "long_range", "overrides": {"arch": "rnn", "task.delay": "5,20"}}
    got = sweeps.lr_choice("long_range", sweep, preset, tmp_path, None)
    assert got.problems == [] and len(calls) == 2
    folder, over = calls[1]
    assert folder.name == "above" and "optimizer.lr=0.1" in over
    assert "arch=rnn" in over and "task.delay=5" in over and "seed=0" in over
    assert {c["condition"]["task.delay"]: c["lr"] for c in got.choice} == {5: 0.1, 20: 0.001}


def test_rates_above_the_grid_must_lie_above_it(capsys):
    with pytest.raises(SystemExit) as e:
        sweeps.check_preset({"seeds": "1", "tune_seed": 0, "lr_grid": [0.001, 0.1], "lr_above": [0.03], "sweeps": {}})
    assert e.value.code == 2 and "lr_above" in capsys.readouterr().err
