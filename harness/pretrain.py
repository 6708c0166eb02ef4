"""Pre-training and fine-tuning: ``init_from=PATH`` starts a run from another run's weights, and a note when a
model can see only the left context of a task that wants both sides (masked language modelling).

``init_from`` takes a run folder or its ``checkpoint.pt``. Before the task is built, :meth:`Source.adapt` checks
that the architecture is the source's and points the task at the source's saved ``tokenizer.json`` (so the
vocabulary is the source's); after, :meth:`Source.check_task` refuses inputs that cannot share the source's
embedding. :meth:`Source.load` copies every tensor whose name and shape match (embeddings, backbone, decoder where
present) and leaves the rest (the new output end) as initialised; ``init_freeze`` then trains only that rest. The
weights are the ones the source run tested (its best validated ones with ``trainer.select=best``). With
``init_weights=false`` nothing is copied: the source's tokenizer and reading direction with fresh weights, the
from-scratch control of a fine-tuning comparison.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from core.errors import ConfigError, first_line
from core.record import CHECKPOINT, SUMMARY, read_json, setting_id, upgrade
from harness import resume_check

TOKENIZER_FILE = "tokenizer.json"


def context_note(spec, arch_info: dict, arch: str) -> str | None:
    """One line when the task wants both sides of each position but the model reads only the left one."""
    if spec.prefers_bidirectional and arch_info.get("context") == "causal":
        return (
            f"note: arch={arch} reads only the left context here (causal or one-way), so each prediction of "
            "this task sees the words before it and none after; set the arch's causal=false or "
            "bidirectional=true to let it see both sides"
        )
    return None


def architecture_of(node) -> str:
    """What makes two runs the same architecture: the backbone class (``_target_`` for records written before
    the shared model composed backbones)."""
    return str(node.get("backbone") or node._target_)


TOKENIZER_KEYS = ("vocab_size", "lowercase")  # settings of a tokenizer that init_from's saved one fixes


class Source:
    """The run that ``init_from`` names: its folder, record, config and weights."""

    def __init__(self, path: str):
        p = Path(str(path)).expanduser()
        if p.is_dir():
            self.folder, self.ckpt = p, p / CHECKPOINT
        elif p.is_file():
            self.folder, self.ckpt = p.parent, p
        else:
            raise ConfigError(f"init_from={path} is neither a run folder nor a checkpoint file")
        if not self.ckpt.is_file():
            raise ConfigError(
                f"init_from={path}: {self.ckpt} does not exist; point it at a run folder that holds a {CHECKPOINT}"
            )
        summary = read_json(self.folder / SUMMARY)
        self.summary = upgrade(summary) if isinstance(summary, dict) else None  # an older record as the current
        config = self.folder / ".hydra" / "config.yaml"
        if self.summary is None or not config.is_file():
            raise ConfigError(
                f"init_from={path}: {self.folder} holds no {SUMMARY} and .hydra/config.yaml beside the "
                "checkpoint; init_from needs a run folder written by archbench"
            )
        try:  # OmegaConf reads YAML safely: a python tag is refused, never run
            self.cfg = OmegaConf.load(config)
        except yaml.YAMLError as e:
            raise ConfigError(
                f"init_from={path}: {config} is not a plain YAML config ({first_line(e)}); restore it "
                "from the source run, or pre-train again"
            ) from None
        self.path = str(path)
        # read now, before any data or model is built: a damaged or foreign checkpoint is one line naming it
        self.ck = resume_check.load(
            self.ckpt,
            required=("model",),
            use="used by init_from",
            advice="point init_from at a run folder written by archbench",
        )

    # -- before the task is built ------------------------------------------------------------------------
    def adapt(self, cfg: DictConfig) -> None:
        """Refuse another architecture; give the task the source's tokenizer (and its kind must agree)."""
        mine, theirs = architecture_of(cfg.arch), architecture_of(self.cfg.arch)
        if mine != theirs:
            raise ConfigError(
                f"init_from={self.path} was trained as arch={self.summary.get('arch')} ({theirs}); this "
                f"run builds {mine}. Weights carry over within one architecture: use "
                f"arch={self.summary.get('arch')}"
            )
        src_info = self.summary.get("task_info", {})
        src_tok, my_tok = src_info.get("tokenizer"), cfg.task.get("tokenizer")
        if (src_tok is None) != (my_tok is None):
            has, lacks = ("the source", "this task") if my_tok is None else ("this task", "the source")
            raise ConfigError(
                f"init_from={self.path}: {has} reads text through a tokenizer and {lacks} does not, so "
                "their vocabularies cannot match; pre-train on the same kind of input"
            )
        if my_tok is None:
            return
        saved = self.folder / TOKENIZER_FILE
        if str(my_tok) not in (src_tok, str(saved)):
            raise ConfigError(
                f"init_from={self.path} tokenized with task.tokenizer={src_tok}, this run asks for "
                f"{my_tok}; drop the task.tokenizer override (init_from reuses the source's tokenizer)"
            )
        if src_tok != "byte":
            if not saved.is_file():
                raise ConfigError(
                    f"init_from={self.path}: the source run saved no {TOKENIZER_FILE}, so its vocabulary "
                    "cannot be reused; pre-train again with this version of archbench"
                )
            with open_dict(cfg):
                cfg.task.tokenizer = str(saved)
            self.adopt_tokenizer_settings(cfg)

    def adopt_tokenizer_settings(self, cfg: DictConfig) -> None:
        """The saved tokenizer fixes the vocabulary and case: this run's ``task.vocab_size`` / ``task.lowercase``
        are replaced by the source's (one line says so), so that the record states the values used."""
        changed = [
            (k, cfg.task[k], self.cfg.task[k])
            for k in TOKENIZER_KEYS
            if k in cfg.task and k in self.cfg.task and cfg.task[k] != self.cfg.task[k]
        ]
        if not changed:
            return
        with open_dict(cfg):
            for key, _, theirs in changed:
                cfg.task[key] = theirs
        print(
            f"note: init_from={self.path} brings its tokenizer, so "
            + ", ".join(
                f"task.{k}={mine} is ignored ({theirs}, the source's, is used and recorded)"
                for k, mine, theirs in changed
            ),
            file=sys.stderr,
        )

    def check_task(self, task) -> None:
        """The same input kind and vocabulary as the source (else the embedding cannot carry over); keep the
        source's reading direction where the architecture leaves it to the task (recurrent bidirectional=null)."""
        spec, src = task.spec, self.summary.get("task_info", {}).get("spec", {})
        for key in ("input_kind", "vocab_size"):
            if src.get(key) != getattr(spec, key):
                raise ConfigError(
                    f"init_from={self.path}: the source's {key} is {src.get(key)}, this task's is "
                    f"{getattr(spec, key)}; the vocabularies cannot match"
                )
        if self.summary.get("arch_info", {}).get("context") == "bidirectional" and not spec.prefers_bidirectional:
            task.spec = dataclasses.replace(spec, prefers_bidirectional=True)

    # -- after the model is built ------------------------------------------------------------------------
    def load(self, model: torch.nn.Module, freeze: bool = False, weights: bool = True) -> dict:
        """Copy the matching tensors into ``model``; what was loaded and skipped, for ``summary["init"]``.
        ``weights=False`` copies nothing (the control: the source's tokenizer and reading direction, fresh
        weights); ``freeze`` trains only the tensors that were not loaded."""
        ck = self.ck
        selection = self.summary.get("selection", {})
        best = selection.get("weights") == "best" and ck.get("best_model")
        tensors = ck["best_model"] if best else ck["model"]
        mine = model.state_dict()
        loaded = sorted(k for k, v in tensors.items() if k in mine and mine[k].shape == v.shape)
        if not loaded:
            raise ConfigError(
                f"init_from={self.path}: no tensor of the source matches this model by name and shape; "
                "build the model with the source's arch settings (width, layers)"
            )
        if not weights:
            loaded = []
        model.load_state_dict({k: tensors[k] for k in loaded}, strict=False)
        skipped = sorted(set(tensors) - set(loaded))  # source tensors left behind (e.g. the pre-training head)
        fresh = sorted(set(mine) - set(loaded))  # this model's tensors initialised anew (e.g. the new head)
        if freeze:  # train only what was not loaded
            names = set(loaded)
            for name, p in model.named_parameters():
                p.requires_grad_(name not in names)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(
            f"init_from {self.folder}: loaded {len(loaded)} tensors, {len(fresh)} new"
            + (", training only the new ones" if freeze else "")
            + ("" if weights else " (init_weights=false: tokenizer and settings only)"),
            file=sys.stderr,
        )
        which = f"best (step {selection.get('step')})" if best else f"last (step {ck.get('step')})"
        return {
            "from": str(self.folder.resolve()),
            "checkpoint": str(self.ckpt.resolve()),
            "weights": which if weights else "none (init_weights=false)",
            "loaded": loaded,
            "skipped": skipped,
            "new": fresh,
            "source_task": self.summary.get("task"),
            "source_arch": self.summary.get("arch"),
            "source_setting": setting_id(self.summary.get("config") or OmegaConf.to_container(self.cfg)),
            "source_steps": self.summary.get("step"),
            "source_status": self.summary.get("status"),
            "freeze": bool(freeze),
            "trainable_params": trainable,
        }
