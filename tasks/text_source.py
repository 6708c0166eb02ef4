"""The settings the one-column text tasks share (``sentiment``, ``mlm``, ``lm``, ``denoise``): where the texts
come from and how they are tokenized, as one :class:`TextSource`.

Users still set them flat (``task.tokenizer=bpe``, ``task.data.path=imdb``), as the YAML has them: a task
decorated with :func:`takes_text_source` writes ``__init__(self, source: TextSource, *, <its own settings>)``
and is built from the flat settings, the source's fields gathered into a ``TextSource``. The built
``__init__`` carries the full signature and annotations (source and own settings), so Hydra, the type checks
of ``harness.config_types``, the defaults test and the "valid settings" message read every setting as if it
were written out.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import MISSING, dataclass, fields

from tasks.base import check_train_fraction
from tasks.text_data import TextData, TokenizedText, check_data_keys, read_data, tokenize_column

#: the keys of ``task.data`` a one-column text task reads (``label_column`` is accepted and ignored by the
#: tasks that read no labels, so that a data set's sentiment settings carry over)
DATA_KEYS = ("path", "name", "text_column", "label_column", "val_split", "test_split")


@dataclass(frozen=True)
class TextSource:
    """Where a text task's texts come from and how they become ids.

    Args:
        data: ``path`` (hub id or folder), ``text_column``, ``label_column``, optional ``name`` (hub config),
            ``val_split`` (hub split used for validation; null = carve from train) and ``test_split``.
        tokenizer: ``word``, ``bpe``, ``byte`` or a saved ``tokenizer.json`` (``init_from`` sets it).
        vocab_size: largest learned vocabulary for word/bpe (ignored by byte, which has 260 ids); the 33 reserved
            pre-training ids come on top.
        max_len: texts are truncated to this many tokens; null = the longest training text.
        lowercase: lower-case the text before tokenizing (word/bpe).
        val_fraction, split_seed: how validation is carved from train when the data has none.
        train_fraction: share of the training rows used (a subset drawn with the run seed; 1 = all).
        cache_dir: cache root (default ``$ARCHBENCH_CACHE`` or ``~/.cache/archbench``).
    """

    data: dict
    tokenizer: str = "word"
    vocab_size: int = 20000
    max_len: int | None = 64
    lowercase: bool = True
    val_fraction: float = 0.1
    split_seed: int = 0
    train_fraction: float = 1.0
    cache_dir: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "data", check_data_keys(self.data, DATA_KEYS))
        object.__setattr__(self, "train_fraction", check_train_fraction(self.train_fraction))

    @property
    def path(self) -> str:
        return str(self.data["path"])

    @property
    def text_column(self) -> str:
        return str(self.data.get("text_column", "text"))

    @property
    def label_column(self) -> str:
        return str(self.data.get("label_column", "label"))

    def read(self, columns: list[str], drop_empty: bool = False) -> TextData:
        """``columns`` of every split."""
        return read_data(
            self.data,
            columns,
            val_fraction=self.val_fraction,
            split_seed=self.split_seed,
            cache_dir=self.cache_dir,
            drop_empty=drop_empty,
        )

    def tokenize(self, raw: TextData) -> TokenizedText:
        """The text column of ``raw`` through the cached tokenizer (trained on the train split), cut to
        ``max_len``."""
        return tokenize_column(
            raw,
            self.text_column,
            tokenizer=self.tokenizer,
            vocab_size=self.vocab_size,
            lowercase=self.lowercase,
            max_len=self.max_len,
            cache_dir=self.cache_dir,
        )


def takes_text_source(cls):
    """Class decorator: ``cls.__init__(self, source, *, own settings)`` becomes ``__init__(self, *, <the
    TextSource fields>, <own settings>)`` with that signature and those (resolved) annotations."""
    own = cls.__init__
    own_hints = typing.get_type_hints(own)
    source_hints = typing.get_type_hints(TextSource)
    empty, keyword = inspect.Parameter.empty, inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [
        inspect.Parameter(
            f.name, keyword, default=empty if f.default is MISSING else f.default, annotation=source_hints[f.name]
        )
        for f in fields(TextSource)
    ]
    params += [
        p.replace(annotation=own_hints.get(p.name, p.annotation))
        for p in inspect.signature(own).parameters.values()
        if p.name not in ("self", "source")
    ]
    names = {f.name for f in fields(TextSource)}

    def __init__(self, **settings):
        source = TextSource(**{k: settings.pop(k) for k in list(settings) if k in names})
        own(self, source, **settings)

    __init__.__signature__ = inspect.Signature(params)
    __init__.__annotations__ = {p.name: p.annotation for p in params[1:]} | {"return": None}
    __init__.__doc__, __init__.__module__ = own.__doc__, own.__module__
    __init__.__qualname__ = own.__qualname__
    cls.__init__ = __init__
    return cls
