"""Every claims preset names experiments that exist, and every sweep composes with its overrides."""

import pytest
from hydra import compose, initialize_config_dir

from studies import sweeps
from studies.claims.build import SOURCES
from tests.conftest import CONF

PRESETS = sorted(p.stem for p in sweeps.PRESETS.glob("*.yaml"))


def first_values(overrides: list[str]) -> list[str]:
    return [o.split(",")[0] for o in overrides]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_sweeps_compose(name):
    preset = sweeps.load_preset(name)
    assert preset["sweeps"], name
    for sweep_name, sweep in preset["sweeps"].items():
        assert any(sweep_name in srcs for srcs in SOURCES.values()), f"{sweep_name} feeds no claim"
        for stage in sweep.get("stages") or [{}]:
            extra = {"stage": stage["stage"], **stage.get("overrides", {})} if stage else {}
            with initialize_config_dir(config_dir=CONF, version_base="1.3"):
                cfg = compose(
                    config_name="config",
                    overrides=[
                        f"experiment={sweep['experiment']}",
                        *first_values(sweeps.overrides_of(preset, sweep, extra)),
                    ],
                )
            assert cfg.trainer.resume is True, sweep_name  # relaunching a claims sweep resumes it


def test_unknown_preset_names_the_known_ones(capsys):
    with pytest.raises(SystemExit) as e:
        sweeps.load_preset("nope")
    assert e.value.code == 2 and "use one of full, quick, smoke" in capsys.readouterr().err


def test_best_lr_picks_the_best_validation_value(tmp_path):
    import json

    for i, (arch, lr, acc) in enumerate(
        [("lstm", 0.001, 0.5), ("lstm", 0.01, 0.7), ("rnn", 0.001, 0.3), ("rnn", 0.01, 0.2)]
    ):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "summary.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "arch": arch,
                    "task": "copy_long",
                    "seed": 0,
                    "speed": {},
                    "metrics": {"val/acc": acc},
                    "selection": {"metric": "val/acc"},
                    "config": {"optimizer": {"lr": lr}},
                }
            )
        )
    assert sweeps.best_lr(tmp_path) == [
        {"arch": "lstm", "condition": {}, "lr": 0.01},
        {"arch": "rnn", "condition": {}, "lr": 0.001},
    ]


@pytest.mark.parametrize(
    "block, kind",
    [
        ("post_norm", "post-norm"),
        ("pre_norm", "pre-norm"),
        ("no_residual", "no residual"),
        ("no_layernorm", "no layernorm"),
    ],
)
def test_depth_sweep_blocks_are_the_kinds_the_c10_rule_reads(block, kind):
    """Each conf/block choice of experiment=claims_depth sets the arch keys that C10's rule tells apart."""
    from omegaconf import OmegaConf

    from studies.claims.rules import block_kind

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            config_name="config", overrides=["experiment=claims_depth", f"block={block}"], return_hydra_config=True
        )
    assert block in cfg.hydra.sweeper.params.block.split(",")
    assert cfg.trainer.stop_at is not None  # "never reached the target" is what a failed run means
    run = {"arch": "transformer", "config": OmegaConf.to_container(cfg, resolve=False)}
    assert block_kind(run) == kind


def test_best_lr_follows_the_declared_direction(tmp_path):
    import json

    for i, (lr, loss) in enumerate([(0.001, 0.9), (0.01, 0.4)]):
        d = tmp_path / str(i)
        d.mkdir()
        (d / "summary.json").write_text(
            json.dumps(
                {
                    "status": "completed",
                    "arch": "rnn",
                    "task": "t",
                    "seed": 0,
                    "speed": {},
                    "task_info": {"directions": {"score": "min"}},
                    "metrics": {"val/score": loss},
                    "selection": {"metric": "val/score"},
                    "config": {"optimizer": {"lr": lr}},
                }
            )
        )
    assert sweeps.best_lr(tmp_path) == [
        {"arch": "rnn", "condition": {}, "lr": 0.01}
    ]  # "score" would read as higher-is-better by its name
