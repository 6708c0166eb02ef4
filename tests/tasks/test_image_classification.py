"""task=image_classification: data loading (embedded digits, IDX roots), splits, normalisation, augmentation,
resume, clear errors, and a few training steps of every architecture through Hydra and the harness."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import pytest
import torch

from core.errors import ConfigError
from harness.train import train
from tasks.image_classification import DATASETS, ImageClassification, read_idx
from tests.conftest import ARCHS


def write_idx(path: Path, array: torch.Tensor, gz: bool = False) -> None:
    """Write a uint8 tensor as an IDX file (big-endian header: 0, 0, 0x08, ndim, dims...)."""
    body = struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape) + array.numpy().tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(body)
    else:
        path.write_bytes(body)


def fake_fashion_root(folder: Path, n_train: int = 40, n_test: int = 12, gz: bool = False) -> dict:
    """Four IDX files of random 28×28 images whose labels are readable from the images (label = the row
    that is bright), written flat into ``folder``. Returns the tensors written."""
    g = torch.Generator().manual_seed(7)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = torch.arange(n, dtype=torch.uint8) % 10
        x = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
        x[torch.arange(n), 2 * y.long()] = 255
        write_idx(folder / f"{split}-images-idx3-ubyte", x, gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte", y, gz)
        out[split] = (x, y)
    return out


# -------------------------------------------------------------------------------------------- data
def test_digits_loads_offline_with_deterministic_splits():
    task = ImageClassification()
    assert task.spec.input_kind == "image" and task.spec.output_kind == "class"
    assert task.spec.image_shape == (1, 16, 16) and task.spec.num_classes == 10
    task.setup("cpu", seed=0)
    sizes = {s: len(y) for s, (_, y) in task.data.items()}
    assert sizes == {"train": 1294, "val": 144, "test": 359}  # 1797 = 359 test + 144 val + 1294 train
    again = ImageClassification()
    again.setup("cpu", seed=5)  # the run seed does not move the split
    for split in sizes:
        assert torch.equal(task.data[split][0], again.data[split][0])
        assert torch.equal(task.data[split][1], again.data[split][1])
    other = ImageClassification(data={"split_seed": 1})
    other.setup("cpu", seed=0)
    assert not torch.equal(other.data["test"][1], task.data["test"][1])
    # the three splits hold exactly the 1797 images of load_digits
    from sklearn.datasets import load_digits

    original = torch.from_numpy(load_digits().images).mul(255 / 16).round().to(torch.uint8).flatten(1)
    split_x = torch.cat([x[:, :, ::2, ::2].flatten(1) for x, _ in task.data.values()])  # undo the 2× upsampling
    assert torch.equal(split_x.sort(0).values, original.sort(0).values)


def test_digits_upsampling_is_nearest_neighbour_of_the_8x8_original():
    native = ImageClassification(data={"upsample": 1})
    assert native.spec.image_shape == (1, 8, 8)
    native.setup("cpu", 0)
    up = ImageClassification()
    up.setup("cpu", 0)
    x8, x16 = native.data["train"][0], up.data["train"][0]
    assert torch.equal(x16[:, :, ::2, ::2], x8) and torch.equal(x16[:, :, 1::2, 1::2], x8)


def test_batches_are_normalised_with_the_dataset_statistics():
    task = ImageClassification()
    task.setup("cpu", 0)
    batch = task.train_batch(1294)  # one whole epoch
    x = batch.inputs[0]
    assert x.shape == (1294, 1, 16, 16) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05
    assert batch.targets.dtype == torch.long and batch.n_tokens == 1294 * 16 * 16  # tokens/s counts pixels
    raw = task.data["val"][0][:3].float() / 255
    mean, std = DATASETS["digits"].mean[0], DATASETS["digits"].std[0]
    torch.testing.assert_close(next(iter(task.eval_batches("val", 3))).inputs[0], (raw - mean) / std)


def test_epochs_visit_every_training_image_once():
    task = ImageClassification()
    task.setup("cpu", 0)
    n = task.n_train
    first = torch.cat([task.sampler.next(100) for _ in range(n // 100)] + [task.sampler.next(n % 100)])
    assert task.sampler.epoch == 1 and task.sampler.pos == 0
    assert torch.equal(first.sort().values, torch.arange(n))
    second = task.sampler.next(n)
    assert not torch.equal(first, second) and torch.equal(second.sort().values, torch.arange(n))


def test_resume_state_gives_identical_next_batches():
    task = ImageClassification(augment=True)
    task.setup("cpu", seed=3)
    for _ in range(25):  # into the second epoch (1294 / 64 ≈ 20 batches per epoch)
        task.train_batch(64)
    state = task.state_dict()
    expected = [task.train_batch(64) for _ in range(5)]
    resumed = ImageClassification(augment=True)
    resumed.setup("cpu", seed=99)  # a different seed: everything must come from the state
    resumed.load_state_dict(state)
    for want in expected:
        got = resumed.train_batch(64)
        assert torch.equal(got.inputs[0], want.inputs[0]) and torch.equal(got.targets, want.targets)
    assert resumed.sampler.epoch == task.sampler.epoch and resumed.sampler.pos == task.sampler.pos


def test_augmentation_shifts_each_image_within_the_padding():
    task = ImageClassification(augment=True)
    task.setup("cpu", 0)
    x = task.data["train"][0][:32]
    out = task.augment_batch(x)
    pad = DATASETS["digits"].crop_pad * task.upsample  # 2 pixels at 16×16; digits are never flipped
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    H = W = 16
    shifts = set()
    for i in range(len(x)):
        match = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(padded[i, :, dy : dy + H, dx : dx + W], out[i])
        ]
        assert match, f"image {i} is not a crop of its padded original"
        shifts.add(match[0])
    assert len(shifts) > 1  # per sample, not one crop for the whole batch


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_fake_idx_root_loads_as_fashion_mnist(tmp_path, gz, layout):
    folder = tmp_path / "root" if layout == "flat" else tmp_path / "root" / "FashionMNIST" / "raw"
    written = fake_fashion_root(folder, gz=gz)
    task = ImageClassification(data={"name": "fashion_mnist", "root": str(tmp_path / "root")}, val_fraction=0.25)
    assert task.spec.image_shape == (1, 28, 28) and task.spec.num_classes == 10
    task.setup("cpu", 0)
    assert {s: len(y) for s, (_, y) in task.data.items()} == {"train": 30, "val": 10, "test": 12}
    x_test, y_test = task.data["test"]
    assert torch.equal(x_test[:, 0], written["t10k"][0]) and torch.equal(y_test, written["t10k"][1].long())
    train_val = torch.cat([task.data["train"][0], task.data["val"][0]])[:, 0]
    assert torch.equal(train_val.flatten(1).sort(0).values, written["train"][0].flatten(1).sort(0).values)
    assert task.describe()["source"] == str(folder)


def test_read_idx_rejects_files_that_are_not_idx(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ConfigError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">BBBB3I", 0, 0, 8, 3, 5, 28, 28) + b"\0" * 100)
    with pytest.raises(ConfigError, match="cut short"):
        read_idx(short)


# -------------------------------------------------------------------------------------------- errors
def test_missing_root_names_the_layout_and_the_download_flag(tmp_path):
    with pytest.raises(ConfigError) as e:
        ImageClassification(data={"name": "fashion_mnist", "root": str(tmp_path / "nowhere")})
    msg = str(e.value)
    assert "FashionMNIST/raw/" in msg and "train-images-idx3-ubyte" in msg and "task.data.download=true" in msg
    with pytest.raises(ConfigError, match="cifar-10-batches-py.*task.data.download=true"):
        ImageClassification(data={"name": "cifar10", "root": str(tmp_path)})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"data": {"name": "svhn"}}, "digits, mnist, fashion_mnist, cifar10"),
        ({"data": {"nmae": "digits"}}, "unknown keys"),
        ({"val_fraction": 0.0}, "strictly between 0 and 1"),
    ],
)
def test_bad_settings_fail_in_init(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ImageClassification(**kwargs)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (("task.data.name=imagenet",), "task.data.name='imagenet'"),
        (("arch.image_as=columns",), "arch.image_as='columns' is not valid; use one of rows, pixels, patches, conv"),
        (
            ("arch.image_as=patches", "arch.patch_size=5"),
            r"patch_size=5 does not divide the 16x16 image; use one of "
            r"\[1, 2, 4, 8, 16\]",
        ),
    ],
)
def test_bad_settings_fail_through_hydra_before_training(cfg_factory, overrides, match):
    cfg = cfg_factory("task=image_classification", *overrides)
    with pytest.raises(ConfigError, match=match):
        train(cfg)
    assert not (Path(cfg.run_dir) / "summary.json").exists()


# -------------------------------------------------------------------------------------------- end to end
# Every architecture with its own way of reading images (its YAML's image_as), and other readings on a few.
CELLS = [(a, None) for a in ARCHS] + [("lstm", "pixels"), ("transformer", "patches"), ("rnn", "conv")]
READ = {
    "rows": "image as rows",
    "pixels": "image as pixels",
    "patches": "image as 2x2 patches",
    "conv": "image as 2-D convolutions",
}


@pytest.mark.parametrize("arch, image_as", CELLS)
def test_every_architecture_trains_on_digits(cfg_factory, arch, image_as):
    extra = ["task.data.upsample=1"] if image_as == "pixels" else []  # 64 steps instead of 256: fast
    cfg = cfg_factory(
        "task=image_classification", f"arch={arch}", *extra, *([f"arch.image_as={image_as}"] if image_as else [])
    )
    summary = train(cfg)
    on_disk = json.loads((Path(cfg.run_dir) / "summary.json").read_text())
    assert summary["status"] == on_disk["status"] == "completed"
    assert 0.0 <= on_disk["metrics"]["test/acc"] <= 1.0 and len(on_disk["metrics"]["test/acc_per_class"]) == 10
    assert on_disk["task_info"]["dataset"] == "digits" and "image_as" not in on_disk["task_info"]["spec"]
    read = READ[cfg.arch.image_as]  # the model's setting, recorded as what the model really read
    assert on_disk["arch"] == arch and on_disk["arch_info"]["input"] == read


def test_fashion_mnist_from_a_fake_root_trains_through_hydra(cfg_factory, tmp_path):
    fake_fashion_root(tmp_path / "fmnist", gz=True)
    cfg = cfg_factory(
        "task=image_classification",
        "arch=cnn",
        "task.data.name=fashion_mnist",
        f"task.data.root={tmp_path / 'fmnist'}",
        "task.augment=true",
    )
    summary = train(cfg)
    assert summary["status"] == "completed" and "test/acc" in summary["metrics"]
    assert summary["task_info"]["sizes"] == {"train": 36, "val": 4, "test": 12}
    assert list(summary["task_info"]["spec"]["image_shape"]) == [1, 28, 28]


def test_resumed_training_matches_an_uninterrupted_run(cfg_factory, tmp_path):
    common = [
        "task=image_classification",
        "arch=cnn",
        "task.augment=true",
        "trainer.max_steps=6",
        "trainer.schedule=constant",
        "trainer.ckpt_every=3",
        "trainer.eval_every=3",
    ]
    whole = train(cfg_factory(*common))
    cut = cfg_factory(*common, "trainer.max_steps=3")
    cut.run_dir = str(tmp_path / "cut")
    train(cut)
    (Path(cut.run_dir) / "summary.json").unlink()  # as if the run had been killed after its checkpoint
    rest = cfg_factory(*common, "trainer.resume=true")
    rest.run_dir = cut.run_dir
    resumed = train(rest)
    assert resumed["step"] == whole["step"] == 6
    assert resumed["metrics"]["test/loss"] == whole["metrics"]["test/loss"]


def test_metrics_sum_over_batches_with_per_class_accuracy():
    task = ImageClassification()
    task.setup("cpu", 0)
    logits = torch.zeros(3, 10)
    logits[:, 0] = 5.0  # always predicts class 0
    batches = [
        task.eval_stats(logits[:2], _batch(torch.tensor([0, 1]))),
        task.eval_stats(logits[2:], _batch(torch.tensor([0]))),
    ]
    sums = {k: batches[0][k] + batches[1][k] for k in batches[0]}
    metrics = task.finalize(sums)
    assert metrics["acc"] == pytest.approx(2 / 3)
    assert metrics["acc_per_class"][:2] == [1.0, 0.0] and metrics["acc_per_class"][2:] == [None] * 8
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 0])).item()
    assert metrics["loss"] == pytest.approx(expected)


def _batch(targets: torch.Tensor):
    from tasks.base import Batch

    return Batch((torch.zeros(len(targets), 1, 16, 16),), targets, n_tokens=0)


@pytest.mark.parametrize("arch", ["cnn", "vit", "transformer"])
def test_presets_compose_and_train(cfg_factory, arch):
    cfg = cfg_factory(
        f"experiment=image_classification_{arch}",
        "trainer.max_steps=2",
        "trainer.eval_every=2",
        "trainer.progress=false",
        "trainer.threads=1",
        "trainer.eval_batch_size=512",
        tiny=False,
    )
    assert cfg.task._target_.endswith("ImageClassification") and cfg.trainer.stop_at is None
    summary = train(cfg)
    assert summary["status"] == "completed" and summary["arch"] == arch


def test_download_flag_goes_through_torchvision_and_reports_failures(tmp_path, monkeypatch):
    calls = []

    class FakeFashionMNIST:  # stands in for torchvision.datasets.FashionMNIST(root, train, download=True)
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            fake_fashion_root(Path(root) / "FashionMNIST" / "raw", gz=False)

    monkeypatch.setattr(ImageClassification, "_torchvision_class", lambda self: FakeFashionMNIST)
    task = ImageClassification(data={"name": "fashion_mnist", "root": str(tmp_path / "new"), "download": True})
    assert calls and all(download for _, _, download in calls)
    assert task.spec.image_shape == (1, 28, 28)

    class Offline:
        def __init__(self, root, train, download):
            raise OSError("Name or service not known")

    monkeypatch.setattr(ImageClassification, "_torchvision_class", lambda self: Offline)
    with pytest.raises(ConfigError, match="could not fetch fashion_mnist.*Name or service not known"):
        ImageClassification(data={"name": "fashion_mnist", "root": str(tmp_path / "other"), "download": True})
