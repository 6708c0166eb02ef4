"""Shared loading and tokenization for the text tasks (``sentiment``, ``translation``).

Data: ``path`` is a Hugging Face hub id (``rotten_tomatoes``, ``bentrevett/multi30k``) or a local folder holding
``train`` / ``validation`` / ``test`` files in parquet, csv or json/jsonl (found by extension; ``valid``, ``val``
and ``dev`` also name the validation split, and sharded names such as ``train-00000-of-00002.parquet`` work).
A missing validation split is carved from train (a fixed fraction, chosen by a fixed seed).

Tokenizers: ``word`` (word-level), ``bpe`` (byte-pair encoding over SentencePiece-style ``▁`` pieces, so decoding
is lossless) — both trained with Hugging Face ``tokenizers`` on the train split only and cached on disk — or
``byte`` (ids = UTF-8 bytes + 4, as in LRA's Text task; nothing to train), or the path of a saved tokenizer file
(the ``tokenizer.json`` of a run folder, which ``init_from`` reuses). Special ids: pad 0, bos 1, eos 2, unk 3; every
vocabulary ends with the pre-training ids ``<mask>`` and ``N_SENTINELS`` sentinels ``<extra_id_i>`` (BERT's mask,
T5's span sentinels), so that a pre-trained model and its fine-tuned copy share one vocabulary.

Every problem with the data becomes one :class:`ConfigError` that says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch

from core.errors import ConfigError, first_line
from core.files import atomic_write_bytes
from tasks import checks
from tasks.base import Batch, EpochSampler, Task, TaskSpec, batches_of, to_device, train_subset

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>"]
PAD, BOS, EOS, UNK = 0, 1, 2, 3
N_SENTINELS = 32  # T5 span sentinels reserved in every vocabulary (denoise refuses settings needing more)
RESERVED = ["<mask>"] + [f"<extra_id_{i}>" for i in range(N_SENTINELS)]  # appended after the learned vocabulary
TOKENIZERS = ("word", "bpe", "byte")
SPLITS = ("train", "val", "test")  # the names the harness evaluates ("val", "test")
SPLIT_ALIASES = {"train": ("train",), "val": ("validation", "valid", "val", "dev"), "test": ("test",)}
BUILDERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}
_NONE = object()  # "no bad value found"
CACHE_VERSION = 2  # bump when the tokenizer recipe changes, so old cache files are not reused


def text_to_text_spec(vocab_size: int, tgt_vocab_size: int, max_len: int, tgt_max_len: int) -> TaskSpec:
    """The spec of a text-to-text task (translation, span denoising): ids in, ids out (the loss ignoring -100),
    both sides padded with PAD and the target framed by BOS and EOS."""
    return TaskSpec(
        input_kind="tokens",
        output_kind="sequence",
        vocab_size=vocab_size,
        max_len=max_len,
        pad_id=PAD,
        ignore_index=-100,
        tgt_vocab_size=tgt_vocab_size,
        tgt_max_len=tgt_max_len,
        bos_id=BOS,
        eos_id=EOS,
        tgt_pad_id=PAD,
    )


def cache_root(cache_dir: str | None = None) -> Path:
    """``cache_dir``, else ``$ARCHBENCH_CACHE``, else ``~/.cache/archbench``."""
    return Path(cache_dir or os.environ.get("ARCHBENCH_CACHE") or "~/.cache/archbench").expanduser()


# ------------------------------------------------------------------------------------------------ loading
@dataclass
class TextData:
    """Columns of every split as Python lists, and what identifies the data (for the tokenizer cache).

    Args:
        splits: ``{"train"|"val"|"test": {column: list}}``.
        identity: a JSON-able description of the source (hub id, or files with sizes and mtimes).
        carved_validation: True when validation was cut from train.
        dropped: rows dropped per split for an empty or missing value (``drop_empty=True``).
    """

    splits: dict[str, dict[str, list]]
    identity: dict
    carved_validation: bool = False
    dropped: dict[str, int] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {s: len(next(iter(cols.values()))) for s, cols in self.splits.items()}


def check_data_keys(data: dict, allowed: tuple[str, ...]) -> dict:
    """``data`` as a dict, refusing keys the task does not read (a typo would otherwise be ignored)."""
    data = dict(data)
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"task.data has unknown key(s) {unknown}; valid keys: {', '.join(allowed)}")
    if not data.get("path"):
        raise ConfigError("task.data.path is empty; give a hub id (e.g. rotten_tomatoes) or a local folder")
    return data


def is_local(path: str) -> bool:
    """A folder (existing, or written like a path: ``./x``, ``../x``, ``/x``, ``~/x``) rather than a hub id."""
    return Path(path).expanduser().exists() or path.startswith((".", "/", "~")) or path.count("/") > 1


def find_split_files(folder: Path) -> dict[str, list[Path]]:
    """``{split: files}`` for the data files under ``folder`` (its top level and ``data/``)."""
    files = [
        p
        for sub in (folder, folder / "data")
        if sub.is_dir()
        for p in sorted(sub.iterdir())
        if p.is_file() and p.suffix.lower() in BUILDERS
    ]
    found: dict[str, list[Path]] = {}
    for split, aliases in SPLIT_ALIASES.items():
        hits = [p for p in files if p.name.split(".")[0].split("-")[0].lower() in aliases]
        if hits:
            found[split] = hits
    return found


def holds_no_rows(path: Path) -> bool:
    """True when a data file has no rows: parquet by its metadata, text formats by their content."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows == 0
    if path.stat().st_size > 4096:
        return False
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if path.suffix.lower() == ".csv":
        return len(lines) <= 1  # at most a header
    return not lines or "".join(lines).strip() == "[]"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub's host answers a TCP connection within ``timeout`` seconds (a DNS failure is instant)."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_local(folder: Path, columns: list[str], cache_dir: Path) -> tuple[dict, dict]:
    import datasets

    found = find_split_files(folder)
    missing = [s for s in ("train", "test") if s not in found]
    if missing:
        present = sorted(p.name for p in folder.iterdir())[:20] if folder.is_dir() else []
        raise ConfigError(
            f"{folder} has no {' and no '.join(missing)} split file. Found: {present or 'nothing'}. Expected files "
            f"named train.<ext>, test.<ext> and optionally validation.<ext> (or valid/val/dev), with <ext> one of "
            f"{', '.join(BUILDERS)} (shards such as train-00000-of-00002.parquet also work)"
        )
    splits, identity = {}, {"folder": str(folder.resolve()), "files": {}}
    for split, paths in found.items():
        kinds = {BUILDERS[p.suffix.lower()] for p in paths}
        if len(kinds) > 1:
            raise ConfigError(f"{folder}: the {split} split mixes file types ({[p.name for p in paths]}); keep one")
        if all(holds_no_rows(p) for p in paths):  # datasets cannot read empty files: say so plainly
            raise ConfigError(
                f"the {split} split of {folder} is empty ({[p.name for p in paths]} hold no rows); "
                "every split needs at least one row"
            )
        datasets.disable_progress_bars()  # converting a small local file is instant: no bars on stderr
        try:
            ds = datasets.load_dataset(
                kinds.pop(), data_files=[str(p) for p in paths], split="train", cache_dir=str(cache_dir / "datasets")
            )
        except Exception as e:  # noqa: BLE001 - any parse failure is a data problem the user must fix
            raise ConfigError(
                f"could not read the {split} files {[p.name for p in paths]} in {folder}: "
                f"{checks.explain_read_error(paths, e)}"
            ) from None
        finally:
            datasets.enable_progress_bars()
        splits[split] = ds
        identity["files"][split] = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
    return splits, identity


def load_hub(path: str, name: str | None, split_names: dict[str, str | None]) -> tuple[dict, dict]:
    import datasets

    hint = (
        f"download it once while online (python -c \"import datasets; datasets.load_dataset('{path}')\"), "
        "then run with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1; or pass a local folder with train/validation/"
        "test files via task.data.path=..."
    )
    if not datasets.config.HF_HUB_OFFLINE and not hub_reachable():
        raise ConfigError(f"task.data.path={path!r} is a hub id but the Hugging Face Hub cannot be reached; {hint}")
    try:
        dd = datasets.load_dataset(path, name)
    except (ConnectionError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as e:
        raise ConfigError(f"task.data.path={path!r} could not be loaded ({e}); {hint}") from None
    except ValueError as e:  # e.g. a missing or wrong config name
        raise ConfigError(f"task.data.path={path!r} (task.data.name={name!r}): {e}") from None
    splits = {}
    for split, source in split_names.items():
        if source is None:
            continue
        if source not in dd:
            if split == "val":
                continue  # carved from train below
            fix = "archbench trains on 'train'" if split == "train" else "choose one with task.data.test_split=..."
            raise ConfigError(f"{path} has no split {source!r}; its splits are {list(dd)}; {fix}")
        splits[split] = dd[source]
    return splits, {"hub": path, "name": name, "splits": split_names}


def load_text_data(
    path: str,
    columns: list[str],
    *,
    name: str | None = None,
    val_split: str | None = "validation",
    test_split: str = "test",
    val_fraction: float = 0.1,
    split_seed: int = 0,
    cache_dir: str | None = None,
    drop_empty: bool = False,
) -> TextData:
    """Load train/validation/test with ``columns`` from a hub id or a local folder.

    Args:
        path: hub id or local folder.
        columns: the columns the task needs (checked in every split).
        name: the hub dataset's configuration name, if it has several.
        val_split, test_split: which hub splits serve as validation and test (``val_split=None`` carves
            validation from train even where the dataset has one). Local folders use their file names.
        val_fraction: share of train carved into validation when there is none.
        split_seed: seed of that carving (fixed, so every run sees the same split).
        cache_dir: root of archbench's caches (local files are converted to Arrow under ``<root>/datasets``).
        drop_empty: drop rows with an empty or missing value in ``columns`` (counted in ``dropped``); without it
            such rows are refused with their count and row numbers.
    """
    if is_local(path):
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"task.data.path={path!r} is not a folder; give a folder holding train/validation/"
                "test files (parquet, csv or json/jsonl) or a hub id such as rotten_tomatoes"
            )
        raw, identity = load_local(folder, columns, cache_root(cache_dir))
        if val_split is None:
            raw.pop("val", None)
    else:
        raw, identity = load_hub(path, name, {"train": "train", "val": val_split, "test": test_split})
    splits = {}
    for split, ds in raw.items():
        missing = [c for c in columns if c not in ds.column_names]
        if missing:
            raise ConfigError(
                f"the {split} split of {path} has no column {missing}; its columns are "
                f"{ds.column_names}. Name the right ones with task.data.<...>_column=... (or "
                "task.data.src/tgt for translation)"
            )
        if len(ds) == 0:
            raise ConfigError(f"the {split} split of {path} is empty; every split needs at least one row")
        splits[split] = {c: ds.data.column(c).to_pylist() for c in columns}
    dropped = checks.drop_empty_rows(splits, columns, bool(drop_empty), path)
    carved = "val" not in splits
    if carved:
        splits["train"], splits["val"] = carve(splits["train"], columns, val_fraction, split_seed, path)
        identity = {**identity, "carved": [val_fraction, split_seed]}
    return TextData({s: splits[s] for s in SPLITS}, identity, carved, dropped)


def read_data(
    data: dict, columns: list[str], *, val_fraction, split_seed, cache_dir: str | None, drop_empty: bool = False
) -> TextData:
    """:func:`load_text_data` for a task's checked ``data`` node (its path, hub config name and split names)."""
    return load_text_data(
        str(data["path"]),
        columns,
        name=data.get("name"),
        val_split=data.get("val_split", "validation"),
        test_split=data.get("test_split", "test"),
        val_fraction=float(val_fraction),
        split_seed=int(split_seed),
        cache_dir=cache_dir,
        drop_empty=drop_empty,
    )


def carve(train: dict, columns: list[str], fraction: float, seed: int, path: str) -> tuple[dict, dict]:
    """Split ``fraction`` of train (at least one row, by a fixed-seed permutation) off as validation."""
    n = len(train[columns[0]])
    if not 0 < fraction < 1:
        raise ConfigError(f"task.val_fraction={fraction} must be between 0 and 1 (e.g. 0.1)")
    n_val = max(1, round(n * fraction))
    if n_val >= n:
        raise ConfigError(
            f"{path} has no validation split and its train split ({n} rows) is too small to carve "
            f"one from; add a validation file or more training rows"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    val_idx, train_idx = sorted(perm[:n_val].tolist()), sorted(perm[n_val:].tolist())
    pick = lambda idx: {c: [train[c][i] for i in idx] for c in columns}
    return pick(train_idx), pick(val_idx)


def texts(values: list, column: str, split: str) -> list[str]:
    """Text column as strings (empty and missing ones were refused or dropped by :func:`load_text_data`)."""
    bad = next((v for v in values if v is not None and not isinstance(v, str)), None)
    if bad is not None:
        raise ConfigError(
            f"column {column!r} of the {split} split holds {type(bad).__name__} values (e.g. {bad!r}),"
            " not text; point task.data.*_column at a text column"
        )
    return list(values)


# ------------------------------------------------------------------------------------------------ tokenizers
class ByteTokenizer:
    """ids = UTF-8 bytes + 4 (0..3 are pad, bos, eos, unk), then the reserved ids from 260; vocabulary 293."""

    kind = "byte"
    vocab_size = 256 + len(SPECIALS) + len(RESERVED)
    reserved = list(range(256 + len(SPECIALS), vocab_size))  # <mask>, sentinels

    def encode_batch(self, batch: list[str]) -> list[list[int]]:
        return [[b + len(SPECIALS) for b in s.encode("utf-8")] for s in batch]

    def decode(self, ids: list[int]) -> str:
        return bytes(i - len(SPECIALS) for i in ids if i >= len(SPECIALS)).decode("utf-8", errors="replace")

    def token(self, i: int) -> str:
        return SPECIALS[i] if i < len(SPECIALS) else bytes([i - len(SPECIALS)]).decode("utf-8", errors="replace")


class HFTokenizer:
    """A trained Hugging Face ``tokenizers.Tokenizer`` with the same small interface as :class:`ByteTokenizer`."""

    def __init__(self, tok):
        self.tok = tok
        self.vocab_size = tok.get_vocab_size()
        self.kind = "word" if json.loads(tok.to_str())["model"]["type"] == "WordLevel" else "bpe"
        self.reserved = [tok.token_to_id(t) for t in RESERVED]  # <mask>, sentinels
        if None in self.reserved:
            raise ConfigError(
                "this tokenizer file has no <mask>/<extra_id_i> tokens (it predates them); "
                "retrain it by giving task.tokenizer=word or bpe"
            )

    def encode_batch(self, batch: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(batch, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def token(self, i: int) -> str:
        return self.tok.id_to_token(i) or ""


def new_tokenizer(kind: str, lowercase: bool):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

    if kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()  # words and runs of punctuation
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)  # joins with spaces, tidies punctuation
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()  # spaces become ▁, so decoding restores them
        tok.decoder = decoders.Metaspace()
    steps = [normalizers.NFKC()] + [normalizers.Lowercase()] * bool(lowercase)
    tok.normalizer = normalizers.Sequence(steps)
    return tok


def train_tokenizer(kind: str, corpus: list[str], vocab_size: int, lowercase: bool):
    """Train a ``word`` or ``bpe`` tokenizer on ``corpus``; ids 0..3 are the specials."""
    from tokenizers import trainers

    tok = new_tokenizer(kind, lowercase)
    make = trainers.WordLevelTrainer if kind == "word" else trainers.BpeTrainer
    tok.train_from_iterator(corpus, trainer=make(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False))
    tok.add_special_tokens(RESERVED)  # after the learned vocabulary
    return tok


def get_tokenizer(
    kind: str, corpus_fn, *, vocab_size: int, lowercase: bool, identity: dict, cache_dir: str | None = None
):
    """A tokenizer of ``kind``, loaded from the cache or trained on ``corpus_fn()`` and cached atomically.

    Args:
        kind: ``word``, ``bpe``, ``byte``, or the path of a saved tokenizer file (loaded as it is).
        corpus_fn: returns the training texts (called only on a cache miss).
        vocab_size: largest learned vocabulary (specials included; the reserved ids come on top); the result may
            be smaller on little data.
        lowercase: lower-case before tokenizing.
        identity: what the corpus is (data source and columns); part of the cache key with the settings.
        cache_dir: cache root (tokenizers go to ``<root>/tokenizers``).

    Returns:
        (tokenizer, cache file or None for ``byte``).
    """
    from tokenizers import Tokenizer

    if kind.endswith(".json"):
        if not Path(kind).is_file():
            raise ConfigError(f"task.tokenizer={kind!r} is not a file; give word, bpe, byte or a saved tokenizer.json")
        try:
            return HFTokenizer(Tokenizer.from_file(kind)), Path(kind)
        except Exception as e:  # noqa: BLE001 - the tokenizers library raises a bare Exception for a bad file
            raise ConfigError(
                f"task.tokenizer={kind} is damaged or not a tokenizer file ({first_line(e)}); restore it "
                "(a run folder's tokenizer.json, which init_from reuses) or give word, bpe or byte"
            ) from None
    if kind not in TOKENIZERS:
        raise ConfigError(
            f"task.tokenizer={kind!r} is not known; use one of {', '.join(TOKENIZERS)} or the path "
            "of a saved tokenizer.json"
        )
    if kind == "byte":
        return ByteTokenizer(), None
    if int(vocab_size) <= len(SPECIALS):
        raise ConfigError(f"task.vocab_size={vocab_size} must be larger than the {len(SPECIALS)} special tokens")
    key = {
        "v": CACHE_VERSION,
        "kind": kind,
        "vocab_size": int(vocab_size),
        "lowercase": bool(lowercase),
        "data": identity,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_root(cache_dir) / "tokenizers" / f"{kind}-{digest}.json"
    if path.exists():
        try:
            return HFTokenizer(Tokenizer.from_file(str(path))), path
        except Exception as e:  # noqa: BLE001 - a damaged cache entry is rebuilt below (and replaced atomically)
            print(
                f"warning: the cached tokenizer {path} is damaged ({first_line(e)}); building it again", file=sys.stderr
            )
    tok = train_tokenizer(kind, corpus_fn(), int(vocab_size), bool(lowercase))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, tok.to_str().encode())  # readers see no file or the whole file
    return HFTokenizer(tok), path


# ------------------------------------------------------------------------------------------------ tensors
def pad_sequences(seqs: list[list[int]], pad: int = PAD) -> torch.Tensor:
    """Right-pad id lists into LongTensor (N, longest)."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (N,)
    flat = torch.tensor([i for s in seqs for i in s], dtype=torch.long)  # (sum of lengths,)
    width = max(1, int(lengths.max())) if len(seqs) else 1
    out = torch.full((len(seqs), width), pad, dtype=torch.long)  # (N, longest)
    out[torch.arange(width)[None, :] < lengths[:, None]] = flat  # row-major order matches ``flat``
    return out


def fit_length(ids: list[list[int]], max_len: int) -> tuple[list[list[int]], float]:
    """Truncate to ``max_len`` (a text that tokenizes to nothing becomes ``[UNK]`` so no row is all padding;
    empty texts were refused or dropped when loading); share truncated."""
    cut = sum(len(s) > max_len for s in ids)
    return [s[:max_len] or [UNK] for s in ids], cut / max(1, len(ids))


def longest(ids: list[list[int]], cap: int = 4096, key: str = "task.max_len") -> int:
    """The longest sequence (at most ``cap``), for ``key=null``; warns when a rare outlier sets it."""
    lengths = sorted(len(s) for s in ids) or [1]
    top, typical = min(cap, max(1, lengths[-1])), lengths[int(0.99 * (len(lengths) - 1))]
    if top > 4 * max(typical, 16):
        print(
            f"warning: {key}=null takes the longest training text, {top} tokens, while 99% are ≤ {typical}; "
            f"every batch holding it is padded to {top} positions (and decoding may run as long): set {key}="
            f"{max(typical, 16)} or so to cut the rare long ones",
            file=sys.stderr,
        )
    return top


@dataclass
class TokenizedText:
    """One text column of every split, tokenized and cut to ``max_len``.

    Args:
        tokenizer, tokenizer_file: from :func:`get_tokenizer` (file None for ``byte``).
        ids: ``{split: id lists}``, each at most ``max_len`` long (an empty text is ``[UNK]``).
        max_len: the cut (given, or the longest training text).
        truncated: ``{split: share of texts cut}``.
    """

    tokenizer: object
    tokenizer_file: Path | None
    ids: dict[str, list[list[int]]]
    max_len: int
    truncated: dict[str, float]


def tokenize_column(
    raw: TextData,
    column: str,
    *,
    tokenizer: str,
    vocab_size: int,
    lowercase: bool,
    max_len: int | None,
    cache_dir: str | None,
) -> TokenizedText:
    """The text column ``column`` of ``raw`` through the cached tokenizer (trained on the train split)."""
    if max_len is not None and int(max_len) < 1:
        raise ConfigError(f"task.max_len={max_len} must be ≥ 1, or null for the longest training text")
    text = {s: texts(cols[column], column, s) for s, cols in raw.splits.items()}
    tok, file = get_tokenizer(
        tokenizer,
        lambda: text["train"],
        vocab_size=vocab_size,
        lowercase=lowercase,
        identity={**raw.identity, "columns": [column]},
        cache_dir=cache_dir,
    )
    ids = {s: tok.encode_batch(t) for s, t in text.items()}
    limit = int(max_len) if max_len is not None else longest(ids["train"], key="task.max_len")
    fitted, truncated = {}, {}
    for s in ids:
        fitted[s], truncated[s] = fit_length(ids[s], limit)
    return TokenizedText(tok, file, fitted, limit, truncated)


class TextTask(Task):
    """What the text tasks share: the rows of each split as tensors (``self.rows[split]``, set in ``__init__``,
    first tensor (N, ...) per row), moved to the device in ``setup``; shuffled resumable training batches; eval
    batches in file order. Subclasses build a :class:`Batch` from row indices in ``make_batch``.
    ``train_fraction`` < 1 keeps a subset of the training rows drawn with the run seed (recorded by ``describe``)."""

    rows: dict[str, tuple[torch.Tensor, ...]]
    tokenizer = None  # the input tokenizer (ByteTokenizer or HFTokenizer), where there is one

    def keep_tokens(self, tt: TokenizedText) -> TokenizedText:
        """Keep the tokenizer of ``tt``, its file, the length cut and the share of texts cut (``describe``)."""
        self.tokenizer, self.tokenizer_file, self.max_len, self.truncated = (
            tt.tokenizer,
            tt.tokenizer_file,
            tt.max_len,
            tt.truncated,
        )
        return tt

    def setup(self, device: torch.device, seed: int) -> None:
        self.device = torch.device(device)
        self.train_rows = train_subset(len(self.rows["train"][0]), self.train_fraction, seed)  # (n_kept,)
        self.subset_seed = int(seed)
        rows = {**self.rows, "train": tuple(t[self.train_rows] for t in self.rows["train"])}
        self.data = {s: tuple(t.to(self.device) for t in r) for s, r in rows.items()}
        self.sampler = EpochSampler(len(self.train_rows), seed)

    def run_files(self) -> dict[str, str]:
        """``tokenizer.json`` (the trained tokenizer, which ``init_from`` reuses); none for ``byte``."""
        tok = getattr(self.tokenizer, "tok", None)
        return {"tokenizer.json": tok.to_str()} if tok is not None else {}

    def make_batch(self, split: str, idx) -> Batch:
        raise NotImplementedError

    def train_batch(self, batch_size: int) -> Batch:
        return self.make_batch("train", to_device(self.sampler.next(batch_size), self.device))

    def eval_batches(self, split: str, batch_size: int):
        if split not in self.data:
            raise ConfigError(f"unknown split {split!r}; use one of {list(self.data)}")
        for s in batches_of(len(self.data[split][0]), batch_size):
            yield self.make_batch(split, s)

    def data_fingerprint(self) -> str:
        """sha256 (16 hex digits) of every split's rows as tokenized: other files, other rows or another
        tokenizer give another fingerprint."""
        if getattr(self, "_fingerprint", None) is None:
            h = hashlib.sha256()
            for split in sorted(self.rows):
                for t in self.rows[split]:
                    h.update(f"{split}{tuple(t.shape)}{t.dtype}".encode())
                    h.update(t.detach().cpu().contiguous().numpy().tobytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def state_dict(self) -> dict:
        return {**self.sampler.state_dict(), "data_fingerprint": self.data_fingerprint()}

    def load_state_dict(self, state: dict) -> None:
        old = state.get("data_fingerprint")  # absent in checkpoints written before it was recorded
        if old is not None and old != self.data_fingerprint():
            raise ConfigError(
                f"the training data differ from the checkpoint's (data fingerprint {old}, now "
                f"{self.data_fingerprint()}): the files under task.data.path changed since the run "
                "started; restore them, or start the run over in another folder"
            )
        self.sampler.load_state_dict(state)
