"""Cases 9 and 10: the files of an ``init_from`` source and of the tokenizer cache, damaged or hostile.

A source whose checkpoint is a pickle that would run code, a truncated checkpoint, a config YAML with a python
tag, or a garbled ``tokenizer.json``: one line naming the file, before training, and no code from the file runs
(torch's own text, which suggests ``weights_only=False``, is not repeated). A damaged tokenizer cache entry is
rebuilt with a warning naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from core.errors import ConfigError
from harness.train import train
from tasks.text_data import get_tokenizer
from tests.harness import test_pretrain
from tests.harness.test_pretrain import text_task
from tests.reliability.helpers import cli, one_line_error

corpus = test_pretrain.corpus  # the fine-tuning tests' data fixture

MARKER = Path("/tmp/archbench_init_from_code_ran")


class RunsCode:
    """Pickled as a call of ``pathlib.Path.touch``: loading it without weights_only would create MARKER."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


@pytest.fixture(scope="module")
def source(tmp_path_factory, corpus) -> Path:
    """A real pre-training run (mlm, tiny transformer, 4 steps)."""
    from tests.conftest import make_cfg

    folder = tmp_path_factory.mktemp("source") / "mlm"
    cfg = make_cfg(folder.parent, "arch=transformer", *text_task("mlm", corpus))
    cfg.run_dir = str(folder)
    train(cfg)
    return folder


def damaged_copy(source: Path, tmp_path: Path, name: str, data: bytes) -> tuple[Path, Path]:
    copy = tmp_path / "src"
    shutil.copytree(source, copy)
    (copy / name).write_bytes(data)
    return copy, copy / name


def fine_tune(cfg_factory, corpus, src: Path):
    return train(cfg_factory("arch=transformer", *text_task("sentiment", corpus), f"init_from={src}"))


def code_that_would_run() -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({"model": RunsCode()}, buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("checkpoint.pt", "code", "holds objects other than tensors and plain values"),
        ("checkpoint.pt", "truncated", "is damaged and cannot be used by init_from"),
        (
            ".hydra/config.yaml",
            b"arch: !!python/object/apply:pathlib.Path.touch ['/tmp/archbench_init_from_code_ran']\n",
            "is not a plain YAML config",
        ),
        ("tokenizer.json", b'{"version": "1.0", "model": {"type": "Wor', "is damaged or not a tokenizer file"),
    ],
)
def test_a_damaged_or_hostile_source_file_is_one_line_naming_it(
    cfg_factory, tmp_path, corpus, source, name, data, says
):
    MARKER.unlink(missing_ok=True)
    if data == "code":
        data = code_that_would_run()
    elif data == "truncated":
        data = (source / name).read_bytes()[:300]
    src, path = damaged_copy(source, tmp_path, name, data)
    with pytest.raises(ConfigError) as e:
        fine_tune(cfg_factory, corpus, src)
    text = str(e.value)
    assert says in text and str(path) in text and "\n" not in text, text
    assert "weights_only" not in text
    assert not MARKER.exists()  # nothing in the file ran


def test_run_py_names_a_hostile_checkpoint_in_one_line(tmp_path, corpus, source):
    MARKER.unlink(missing_ok=True)
    src, path = damaged_copy(source, tmp_path, "checkpoint.pt", code_that_would_run())
    proc = cli(
        tmp_path / "run",
        "arch=transformer",
        *text_task("sentiment", corpus),
        f"init_from={src}",
        "trainer.max_steps=1",
        "trainer.threads=1",
        "trainer.progress=false",
        "trainer.device=cpu",
        "arch.d_model=16",
        "arch.n_heads=2",
        "arch.d_ff=32",
    )
    line = one_line_error(proc, str(path), "holds objects other than tensors")
    assert "weights_only" not in line and not MARKER.exists()
    assert not (tmp_path / "run" / "summary.json").exists()


def test_a_damaged_tokenizer_cache_entry_is_rebuilt_with_a_warning(tmp_path, capsys):
    texts = ["a b c", "b c d", "c d e"] * 5
    kw = {"vocab_size": 20, "lowercase": True, "identity": {"data": "fixture"}, "cache_dir": str(tmp_path)}
    tok, path = get_tokenizer("word", lambda: texts, **kw)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a cut write from an older version, a full disk, a bad sector
    capsys.readouterr()
    again, same = get_tokenizer("word", lambda: texts, **kw)
    err = capsys.readouterr().err
    assert same == path and f"warning: the cached tokenizer {path} is damaged" in err and err.count("\n") == 1
    assert path.read_bytes() == good  # rebuilt, the same tokenizer
    assert again.encode_batch(["a b c"]) == tok.encode_batch(["a b c"])
