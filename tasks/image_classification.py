"""Image classification: MNIST, Fashion-MNIST, CIFAR-10 (torchvision) or scikit-learn's 8×8 digits (offline).

The whole data set is small, so it is loaded once into uint8 tensors (N, C, H, W) on the training device;
batches are made by indexing, then (optionally) augmented per sample and normalised with per-data-set
mean/std through ``torchvision.transforms.v2``. Training batches come from shuffled epochs drawn from a
``torch.Generator`` seeded by the run seed; ``state_dict`` holds epoch, position, order and generator state,
so a resumed run sees exactly the batches an uninterrupted one would.

Data sets (``data.name``):

- ``digits`` (default, embedded, offline): scikit-learn's ``load_digits``, 1797 images of 8×8 pixels with 17
  grey levels, rescaled to 0..255 and upsampled by nearest neighbour (``data.upsample``, default 2 → 16×16,
  so that 4×4 patches are 2×2 original pixels). Split deterministically (``data.split_seed``): 20 % test,
  then ``val_fraction`` of the rest for validation.
- ``mnist``, ``fashion_mnist``: IDX files, plain or ``.gz``, either in torchvision's layout
  ``<root>/MNIST/raw/`` | ``<root>/FashionMNIST/raw/`` or lying flat in ``<root>`` (e.g. the Debian package
  ``dataset-fashion-mnist``: ``data.root=/usr/share/datasets/fashion-mnist``). Read by a small IDX reader.
- ``cifar10``: torchvision's ``<root>/cifar-10-batches-py/``.

The official test sets are the test split; validation is carved from the official training set with a
fixed seed (``data.split_seed``), ``val_fraction`` of it.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from core.errors import ConfigError, first_line, whole
from tasks.base import (
    Batch,
    EpochSampler,
    Task,
    TaskSpec,
    batches_of,
    check_train_fraction,
    strict_fraction,
    to_device,
    train_subset,
)


@dataclass(frozen=True)
class DataInfo:
    """What is known about a data set before loading it.

    Args:
        shape: (C, H, W) at native resolution.
        classes: class names, in label order.
        mean, std: per-channel statistics of the training images scaled to [0, 1] (for ``v2.Normalize``).
        crop_pad: pixels of zero padding for the random crop of ``augment=true`` (at native resolution).
        flip: whether ``augment=true`` also flips horizontally (not for digits, whose mirror images differ).
    """

    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_pad: int
    flip: bool


DIGITS = tuple(str(i) for i in range(10))
DATASETS: dict[str, DataInfo] = {
    # mean/std of digits: all 1797 images after rescaling the 0..16 levels to 0..255, pooled over pixels.
    "digits": DataInfo((1, 8, 8), DIGITS, (0.3053,), (0.3759,), crop_pad=1, flip=False),
    "mnist": DataInfo((1, 28, 28), DIGITS, (0.1307,), (0.3081,), crop_pad=2, flip=False),
    "fashion_mnist": DataInfo(
        (1, 28, 28),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        (0.2860,),
        (0.3530,),
        crop_pad=2,
        flip=True,
    ),
    "cifar10": DataInfo(
        (3, 32, 32),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        crop_pad=4,
        flip=True,
    ),
}
DIGITS_TEST_FRACTION = 0.2

# IDX data sets: torchvision's folder name under the root, and the four files (without .gz).
IDX_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


# ------------------------------------------------------------------------------------------------ IDX files
def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read(path: Path, n: int | None = None) -> bytes:
    """The first ``n`` bytes (all when None) of a plain or gzipped file; a damaged gzip stream is one line."""
    try:
        with _open(path) as f:
            return f.read() if n is None else f.read(n)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ConfigError(
            f"{path} is damaged ({first_line(e)}): the gzip stream is cut short or garbled; "
            "replace the file (or fetch it again with task.data.download=true)"
        ) from None


def idx_header(path: Path) -> tuple[int, ...]:
    """The dimensions stored in an IDX file of unsigned bytes (plain or ``.gz``).

    IDX (LeCun's MNIST format): two zero bytes, a type byte (0x08 = unsigned byte), the number of
    dimensions, then each dimension as a big-endian uint32, then the data in C order.
    """
    head = _read(path, 4 + 16)
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] != 0x08 or not 1 <= head[3] <= 4:
        raise ConfigError(
            f"{path} is not an IDX file of unsigned bytes (magic {head[:4].hex() or 'missing'}, expected 0000 08 0n)"
        )
    raw = head[4 : 4 + 4 * head[3]]
    if len(raw) < 4 * head[3]:
        raise ConfigError(f"{path} is cut short inside its IDX header")
    return struct.unpack(f">{head[3]}I", raw)


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file of unsigned bytes (plain or ``.gz``) as a uint8 tensor of the stored dimensions."""
    dims = idx_header(path)
    data = _read(path)
    body = memoryview(data)[4 + 4 * len(dims) :]
    if len(body) != math.prod(dims):
        raise ConfigError(
            f"{path} holds {len(body)} bytes of data but its header says {dims} "
            f"({math.prod(dims)} bytes); the file is damaged or cut short"
        )
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)


def find_idx_files(root: Path, name: str) -> dict[str, tuple[Path, Path]] | None:
    """(images, labels) paths per official split, from torchvision's layout or a flat folder; None if absent.

    Each file may be plain or gzipped. All four files must lie in one folder.
    """
    for folder in (root / IDX_FOLDERS[name] / "raw", root):
        found = {}
        for split, files in IDX_FILES.items():
            paths = []
            for file in files:
                path = next((p for p in (folder / file, folder / f"{file}.gz") if p.is_file()), None)
                if path is None:
                    break
                paths.append(path)
            if len(paths) == 2:
                found[split] = tuple(paths)
        if len(found) == 2:
            return found
    return None


# ------------------------------------------------------------------------------------------------ the task
class ImageClassification(Task):
    """Classify images; every architecture reads them (how is the model's setting ``arch.image_as``).

    Args:
        data: ``name`` (digits | mnist | fashion_mnist | cifar10), ``root`` (folder of the torchvision data
            sets or of flat IDX files), ``download`` (let torchvision fetch missing files; needs a network),
            ``split_seed`` (seed of the train/val(/test) split, independent of the run seed), ``upsample``
            (integer nearest-neighbour factor; null = 2 for digits, 1 otherwise).
        val_fraction: share of the official training set held out for validation.
        augment: random crop (zero padding, per data set) and, for fashion_mnist / cifar10, horizontal flips,
            drawn per sample from the run's generator.
        train_fraction: share of the labelled training images used (a subset drawn with the run seed; 1 = all).
    """

    main_metric = "acc"

    def __init__(
        self, *, data: dict | None = None, val_fraction: float = 0.1, augment: bool = False, train_fraction: float = 1.0
    ):
        data = dict(data or {})
        known = {"name", "root", "download", "split_seed", "upsample"}
        if set(data) - known:
            raise ConfigError(f"task.data has unknown keys {sorted(set(data) - known)}; valid: {sorted(known)}")
        self.name = str(data.get("name", "digits"))
        if self.name not in DATASETS:
            raise ConfigError(
                f"task.data.name={self.name!r} is not known; use one of {', '.join(DATASETS)} "
                "(digits is embedded and needs no files)"
            )
        strict_fraction("val_fraction", val_fraction, "e.g. 0.1")
        self.info = DATASETS[self.name]
        self.root = Path(str(data.get("root") or ".cache/torchvision")).expanduser()
        self.download = bool(data.get("download", False))
        self.split_seed = whole("task.data.split_seed", data.get("split_seed", 0))
        upsample = whole("task.data.upsample", data.get("upsample"), low=1, allow_none=True)
        self.upsample = upsample if upsample is not None else (2 if self.name == "digits" else 1)
        self.val_fraction, self.augment = float(val_fraction), bool(augment)
        self.train_fraction = check_train_fraction(train_fraction)

        self.sources = self._locate()  # where the files are (ConfigError when they are not)
        C, H, W = self._native_shape()
        shape = (C, H * self.upsample, W * self.upsample)
        self.spec = TaskSpec(
            input_kind="image", output_kind="class", image_shape=shape, num_classes=len(self.info.classes)
        )
        self._cpu: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None

    # -- finding the files (in __init__, so that missing data fails before training) -----------------
    def _missing(self, expected: str) -> ConfigError:
        return ConfigError(
            f"task.data.name={self.name}: no data under task.data.root={str(self.root)!r} "
            f"(absolute: {self.root.resolve()}). Expected {expected}. Pass task.data.root=<folder> where the "
            "files are, or task.data.download=true when online (torchvision fetches them into the root); "
            "task.data.name=digits needs no files."
        )

    def _locate(self):
        """IDX paths per official split (mnist, fashion_mnist), the CIFAR root (cifar10) or None (digits);
        downloads first when allowed and needed."""
        if self.name == "digits":
            return None
        if self.name in IDX_FOLDERS:
            found = find_idx_files(self.root, self.name)
            if found is None and self.download:
                self._download()
                found = find_idx_files(self.root, self.name)
            if found is None:
                names = ", ".join(f for files in IDX_FILES.values() for f in files)
                raise self._missing(
                    f"the IDX files {names} (each plain or .gz) in "
                    f"<root>/{IDX_FOLDERS[self.name]}/raw/ (torchvision's layout) or directly in "
                    "<root>/ (e.g. /usr/share/datasets/fashion-mnist from the Debian package "
                    "dataset-fashion-mnist)"
                )
            return found
        root = self.root.parent if self.root.name == CIFAR_FOLDER else self.root  # accept the folder itself
        folder = root / CIFAR_FOLDER
        if not all((folder / f).is_file() for f in CIFAR_FILES) and self.download:
            self.root = root
            self._download()
        if not all((folder / f).is_file() for f in CIFAR_FILES):
            raise self._missing(
                f"<root>/{CIFAR_FOLDER}/{{{','.join(CIFAR_FILES)}}} (torchvision's CIFAR10 "
                "layout: the python version of CIFAR-10, unpacked)"
            )
        return root

    def _torchvision_class(self):
        import torchvision.datasets as tvd

        return {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[self.name]

    def _download(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            for train in (True, False):
                self._torchvision_class()(str(self.root), train=train, download=True)
        except Exception as e:  # noqa: BLE001 - no network, a broken mirror, a full disk: one clear line
            raise ConfigError(
                f"task.data.download=true: torchvision could not fetch {self.name} into "
                f"{self.root}: {type(e).__name__}: {e}"
            ) from None

    def _native_shape(self) -> tuple[int, int, int]:
        if self.name in IDX_FOLDERS:
            dims = idx_header(self.sources["train"][0])
            if len(dims) != 3:
                raise ConfigError(
                    f"{self.sources['train'][0]} holds an array of shape {dims}; expected (N, H, W) images"
                )
            return (1, dims[1], dims[2])
        return self.info.shape

    # -- loading ---------------------------------------------------------------------------------------
    def _load_official(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """uint8 images (N, C, H, W) and int64 labels (N,) for the data set's own splits."""
        if self.name == "digits":
            from sklearn.datasets import load_digits

            d = load_digits()
            x = torch.from_numpy(d.images).mul(255 / 16).round().to(torch.uint8)[:, None]  # (1797, 1, 8, 8)
            return {"all": (x, torch.from_numpy(d.target).long())}
        if self.name in IDX_FOLDERS:
            out = {}
            for split, (images, labels) in self.sources.items():
                x, y = read_idx(images), read_idx(labels)
                if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                    raise ConfigError(
                        f"{images} {tuple(x.shape)} and {labels} {tuple(y.shape)} do not match: "
                        "expected (N, H, W) images and (N,) labels"
                    )
                out[split] = (x[:, None], y.long())  # (N, 1, H, W)
            return out
        out = {}
        for split in ("train", "test"):
            try:
                ds = self._torchvision_class()(str(self.sources), train=split == "train", download=False)
            except Exception as e:  # noqa: BLE001 - failed checksum, cut pickle: torchvision says "download=True"
                why = "a file failed its checksum" if "download=True" in str(e) else first_line(e)
                raise ConfigError(
                    f"task.data.name=cifar10: {self.sources / CIFAR_FOLDER} is damaged ({why}); "
                    "replace it with the unpacked python version of CIFAR-10, or fetch it again "
                    "with task.data.download=true"
                ) from None
            out[split] = (
                torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),  # (N, 3, 32, 32)
                torch.tensor(ds.targets, dtype=torch.long),
            )
        return out

    def n_val(self, n_train_official: int) -> int:
        """Validation images carved from an official training set of ``n_train_official``."""
        return max(1, round(self.val_fraction * n_train_official))

    def load(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """train / val / test as uint8 images (N, C, H', W') and labels (N,) on the CPU; cached."""
        if self._cpu is not None:
            return self._cpu
        official = self._load_official()
        g = torch.Generator().manual_seed(self.split_seed)
        if "all" in official:  # digits: carve the test split first
            x, y = official["all"]
            order = torch.randperm(len(x), generator=g)
            n_test = round(DIGITS_TEST_FRACTION * len(x))
            official = {"test": (x[order[:n_test]], y[order[:n_test]]), "train": (x[order[n_test:]], y[order[n_test:]])}
        x, y = official["train"]
        order = torch.randperm(len(x), generator=g)
        n_val = self.n_val(len(x))
        if n_val >= len(x):
            raise ConfigError(f"task.val_fraction={self.val_fraction} leaves no training images out of {len(x)}")
        val, train = order[:n_val].sort().values, order[n_val:].sort().values
        splits = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": official["test"]}
        bad = [s for s, (_, t) in splits.items() if len(t) and int(t.max()) >= len(self.info.classes)]
        if bad:
            raise ConfigError(f"{self.name}: labels ≥ {len(self.info.classes)} in the {bad} split(s)")
        f = self.upsample
        if f > 1:
            splits = {s: (x.repeat_interleave(f, -2).repeat_interleave(f, -1), y) for s, (x, y) in splits.items()}
        self._cpu = splits
        return splits

    # -- data ------------------------------------------------------------------------------------------
    def setup(self, device: torch.device, seed: int) -> None:
        self.device = torch.device(device)
        splits = self.load()
        self.train_rows, self.subset_seed = train_subset(len(splits["train"][1]), self.train_fraction, seed), int(seed)
        splits = {**splits, "train": tuple(t[self.train_rows] for t in splits["train"])}
        self.data = {s: (x.to(self.device), y.to(self.device)) for s, (x, y) in splits.items()}
        self.normalize = v2.Compose(
            [
                v2.ToDtype(torch.float32, scale=True),  # uint8 0..255 → [0, 1]
                v2.Normalize(list(self.info.mean), list(self.info.std)),
            ]
        )
        self.sampler = EpochSampler(self.n_train, seed)  # its generator also draws the augmentations

    @property
    def n_train(self) -> int:
        return len(self.data["train"][1])

    def _pixels(self) -> int:
        """Pixels per image: what tokens/s counts for images, however a model reads them."""
        _, H, W = self.spec.image_shape
        return H * W

    def augment_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Random crop after zero padding, and random horizontal flips, drawn per sample from the run's
        generator (``v2.RandomCrop`` on a batch would crop every image alike, from the global RNG).

        x: uint8 (B, C, H, W) → uint8 (B, C, H, W).
        """
        B, C, H, W = x.shape
        pad = self.info.crop_pad * self.upsample
        if pad:
            offsets = to_device(torch.randint(0, 2 * pad + 1, (2, B), generator=self.sampler.gen), x.device)  # (2, B)
            padded = F.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2p, W + 2p)
            rows = (offsets[0][:, None] + torch.arange(H, device=x.device))[:, :, None]  # (B, H, 1)
            cols = (offsets[1][:, None] + torch.arange(W, device=x.device))[:, None, :]  # (B, 1, W)
            b = torch.arange(B, device=x.device)[:, None, None]
            x = padded.permute(0, 2, 3, 1)[b, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)
        if self.info.flip:
            flip = to_device(torch.rand(B, generator=self.sampler.gen) < 0.5, x.device)[:, None, None, None]
            x = torch.where(flip, x.flip(-1), x)
        return x.contiguous()

    def train_batch(self, batch_size: int) -> Batch:
        idx = to_device(self.sampler.next(batch_size), self.device)
        x, y = self.data["train"]
        images = x[idx]  # uint8 (B, C, H, W)
        if self.augment:
            images = self.augment_batch(images)
        return Batch((self.normalize(images),), y[idx], n_tokens=len(idx) * self._pixels())

    def eval_batches(self, split: str, batch_size: int):
        x, y = self.data[split]
        for s in batches_of(len(y), batch_size):
            yield Batch((self.normalize(x[s]),), y[s], n_tokens=len(y[s]) * self._pixels())

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)

    # -- metrics ---------------------------------------------------------------------------------------
    def eval_stats(self, logits: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        y = batch.targets
        right = (logits.argmax(-1) == y).double()  # (B,)
        one_hot = F.one_hot(y, self.spec.num_classes).double()  # (B, K); sums stay deterministic on CUDA
        return {
            "loss_sum": F.cross_entropy(logits.float(), y, reduction="sum").double(),
            "correct": right.sum(),
            "count": torch.tensor(float(len(y)), dtype=torch.float64),
            "correct_by_class": right @ one_hot,
            "count_by_class": one_hot.sum(0),
        }

    def finalize(self, s: dict[str, torch.Tensor]) -> dict:
        by_class = [float(c / n) if n else None for c, n in zip(s["correct_by_class"], s["count_by_class"])]
        return {
            "acc": float(s["correct"] / s["count"]),
            "loss": float(s["loss_sum"] / s["count"]),
            "acc_per_class": by_class,
        }

    def describe(self) -> dict:
        out = {
            "dataset": self.name,
            "image_shape": list(self.spec.image_shape),
            "upsample": self.upsample,
            "classes": list(self.info.classes),
            "tokens_are": "pixels",
            "val_fraction": self.val_fraction,
            "split_seed": self.split_seed,
            "augment": self.augment,
            **self.subset_info(),
            "normalize": {"mean": list(self.info.mean), "std": list(self.info.std)},
            "source": "sklearn.datasets.load_digits" if self.name == "digits" else str(self.root),
        }
        if self._cpu is not None:
            out["sizes"] = {s: len(y) for s, (_, y) in self._cpu.items()}
        if self.name in IDX_FOLDERS:
            out["source"] = str(self.sources["train"][0].parent)
        return out
