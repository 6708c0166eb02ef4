"""``trainer.seeds_batched=true`` with ``seed=[1,2,3]``: the seeds of one setting train side by side as one job.

Each seed is its own :class:`harness.train.Trainer`, built one after another exactly as its own run would be
(the seed set, then the task and the model: the same initialisation), with its own task and data stream, optimizer
and schedule, evaluations, early stop, best-weight selection, checkpoints and run folder. Only the training step is
shared: the seeds' parameters are stacked along a first axis (each seed's parameters are views into the stack, so
its optimizer, evaluations and checkpoints see them as ever), and one ``torch.func.vmap`` of ``functional_call``
runs forward and backward for all seeds on their own batches. The seeds' losses are summed for the backward:
no parameter is shared, so each seed's gradient is its own; clipping (by each seed's own norm) and the optimizer
step stay per seed. A seed that stops (target, time, divergence) writes its record and leaves the stack.

Where the stacked step cannot run — an op without a batching rule (``nn.LSTM``, ``nn.GRU``, ``nn.RNN``: their
fused kernels have none; or whatever a user's backbone does that the first vmapped forward refuses, e.g.
data-dependent control flow), batches whose shapes differ between the seeds, dropout (one generator under vmap, not
each seed's own), batch norm (running statistics), ``torch.compile`` — the seeds step one after another in the
same loop (what separate runs compute), after one line saying why.

Folders: a run folder with a level ``seed=[1,2,3]`` (Hydra's ``override_dirname``, as the sweeps name theirs)
gets ``seed=1`` … in its place, the folders separate runs would have; any other folder gets ``seed=<s>``
subfolders. Each record says ``batched: {seeds, stacked, why}``; nothing else tells it from a separate run.
"""

from __future__ import annotations

import contextlib
import copy
import sys
import time
import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_map

from core.errors import ConfigError, DivergedError, first_line
from harness import checkpoint, lock
from harness.assembly import resolve_run_dir
from harness.signals import StopFlag
from harness.train import Trainer, begin, ended, open_run

# sdpa on the CPU has no batching rule: vmap runs it once per seed (the same kernel a separate run calls)
warnings.filterwarnings("ignore", message="There is a performance drop because we have not yet implemented")


def seeds_of(cfg: DictConfig) -> list[int]:
    """The seeds of ``seed`` (a whole number, or a list with ``trainer.seeds_batched=true``); ConfigError else."""
    seeds = list(cfg.seed) if OmegaConf.is_list(cfg.seed) else [cfg.seed]
    if (
        not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
        or len(set(seeds)) < len(seeds)
    ):
        raise ConfigError(f"seed={OmegaConf.to_container(cfg)['seed']!r} must be distinct whole numbers, e.g. [1,2,3]")
    return seeds


def seed_dirs(run_dir: Path, seeds: list[int]) -> list[Path]:
    """Each seed's run folder: the level ``seed=[…]`` replaced by ``seed=<s>``, else ``<run_dir>/seed=<s>``."""
    parts = run_dir.parts
    at = [i for i, p in enumerate(parts) if p.startswith("seed=[") and p.endswith("]")]
    if at:
        i = at[-1]
        return [Path(*parts[:i], f"seed={s}", *parts[i + 1 :]) for s in seeds]
    return [run_dir / f"seed={s}" for s in seeds]


def seed_configs(cfg: DictConfig) -> list[DictConfig]:
    """One config per seed: ``seed`` the seed, ``run_dir`` its folder; everything else as given."""
    seeds = seeds_of(cfg)
    out = []
    for s, folder in zip(seeds, seed_dirs(resolve_run_dir(cfg), seeds)):
        c = copy.deepcopy(cfg)
        OmegaConf.set_readonly(c, False)
        with open_dict(c):
            c.seed, c.run_dir = s, str(folder)
        out.append(c)
    return out


def not_stackable(cfg: DictConfig, model: torch.nn.Module) -> str | None:
    """Why the seeds of this setting cannot share a stacked step (before any step), or None."""
    if cfg.trainer.compile:
        return "trainer.compile=true (a compiled model is not vmapped)"
    for m in model.modules():
        if isinstance(m, (torch.nn.RNNBase,)):
            return f"{type(m).__name__}'s fused kernel has no vmap batching rule"
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            return "batch norm keeps running statistics (buffers a stacked step would not write back)"
        rate = getattr(m, "p", 0.0)  # nn.Dropout's, and the attention's own dropout
        if isinstance(rate, float) and rate > 0:
            return "dropout is on (under vmap it draws from one generator, not each seed's own)"
    return None


@contextlib.contextmanager
def own_rng(tr: Trainer):
    """The global generators (CPU, and CUDA's on a GPU) as trainer ``tr`` left them: each seed draws from its own,
    as in its own process."""
    checkpoint.set_rng_state(tr.rng, tr.device)
    try:
        yield
    finally:
        tr.rng = checkpoint.rng_state(tr.device)


class Group:
    """The seeds' trainers, stepped together (see the module's description)."""

    def __init__(self, trainers: list[Trainer], seeds: list[int]):
        self.all, self.live, self.seeds = trainers, list(trainers), seeds
        self.why = not_stackable(trainers[0].cfg, trainers[0].model)
        self.tried = False  # whether a stacked forward ran: the first one that fails falls back, a later one raises
        self.params: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        self.base = copy.deepcopy(trainers[0].model)  # functional_call swaps its tensors for the stacked ones
        for tr in trainers:
            tr.batched = {"seeds": seeds, "stacked": self.why is None, "why": self.why}

    def say_why(self) -> None:
        for tr in self.all:
            tr.batched.update(stacked=False, why=self.why)
        arch = self.all[0].arch_name
        print(f"note: trainer.seeds_batched: {arch}'s seeds step one after another ({self.why})", file=sys.stderr)

    def stack(self) -> None:
        """The live seeds' parameters stacked (each seed's parameters become views of its slice) and buffers."""
        if self.why is not None or not self.live:
            return
        models = [tr.model for tr in self.live]
        with torch.no_grad():
            for name, p in models[0].named_parameters():
                stacked = torch.stack([m.get_parameter(name).detach() for m in models]).requires_grad_(p.requires_grad)
                for i, m in enumerate(models):
                    m.get_parameter(name).data = stacked.data[i]
                self.params[name] = stacked
            self.buffers = {n: torch.stack([m.get_buffer(n) for m in models]) for n, _ in models[0].named_buffers()}

    def step(self, batches: list) -> list[torch.Tensor]:
        """One optimizer step of every live seed on its own batch; their losses (detached, on the device)."""
        inputs = list(zip(*[b.inputs for b in batches]))
        if self.why is None and not all(
            all(isinstance(x, torch.Tensor) for x in xs)
            and len({x.shape for x in xs}) == 1
            or all(x is None for x in xs)
            for xs in inputs
        ):
            self.why = "the seeds' batches differ in shape"
            self.say_why()
        if self.why is not None:
            losses = []
            for tr, b in zip(self.live, batches):
                with own_rng(tr):
                    losses.append(tr.train_step(b))
            return losses
        base = self.base

        def forward(params, buffers, *xs):
            return functional_call(base, (params, buffers), xs)

        stacked = [None if xs[0] is None else torch.stack(xs) for xs in inputs]
        dims = tuple(None if x is None else 0 for x in stacked)
        try:
            with self.live[0].autocast():
                out = vmap(forward, in_dims=(0, 0, *dims))(self.params, self.buffers, *stacked)
        except RuntimeError as e:  # an op without a batching rule, data-dependent control flow (a user's backbone)
            if self.tried:
                raise
            self.why = f"vmap cannot batch its forward: {first_line(e)}"
            self.say_why()
            return self.step(batches)  # one seed after another, from this first step on
        self.tried = True
        losses = [
            tr.task.loss(tree_map(lambda o, i=i: o[i], out), b) for i, (tr, b) in enumerate(zip(self.live, batches))
        ]
        for p in self.params.values():
            p.grad = None
        torch.stack(losses).sum().backward()
        for i, tr in enumerate(self.live):
            tr.optimizer.zero_grad(set_to_none=True)
            for name, p in tr.model.named_parameters():
                g = self.params[name].grad
                p.grad = None if g is None else g[i]
            tr.update()  # clipped by its own norm, its own optimizer and schedule
        return [loss.detach() for loss in losses]

    def run(self, cks: list, stop: StopFlag) -> list[dict]:
        """Train every seed to its end; each writes its record. Returns the summaries in the seeds' order."""
        starts = {}
        for tr, ck in zip(self.all, cks):
            with own_rng(tr):  # a checkpoint's generator state becomes the seed's own
                starts[id(tr)] = begin(tr, ck, stop)
        summaries: dict[int, dict] = {}

        def leave(tr: Trainer, why: BaseException | None = None) -> None:
            """``tr`` is done: its status (from ``why``, the signal, or completed), its record; out of the stack."""
            if isinstance(why, DivergedError):
                tr.status, tr.error = "diverged", str(why)
            elif isinstance(why, KeyboardInterrupt):
                tr.interrupted(why)
            elif why is not None:
                tr.status, tr.error = "failed", f"{type(why).__name__}: {why}"
            elif stop.reason:
                tr.interrupted(stop.reason)
            else:
                tr.status = "completed"
            with own_rng(tr):
                summaries[id(tr)] = tr.finish(starts[id(tr)])
            self.live.remove(tr)
            self.stack()

        for tr in list(self.live):
            try:
                with own_rng(tr):
                    tr.start()
                    again = tr.open_loop(stop)
                if again:
                    tr.progress.close()
                    leave(tr)
            except (DivergedError, KeyboardInterrupt) as e:
                tr.progress.close()
                leave(tr, e)
        if self.why is not None:
            self.say_why()
        self.stack()
        try:
            while self.live:
                for tr in [tr for tr in self.live if not tr.training(stop)]:
                    with own_rng(tr):
                        tr.close_loop()
                    leave(tr)
                if not self.live:
                    break
                for tr in self.live:
                    tr.clock.start()
                batches = [tr.task.train_batch(tr.cfg.trainer.batch_size) for tr in self.live]
                for tr, loss, b in zip(list(self.live), self.step(batches), batches):
                    tr.losses.append(loss)
                    tr.clock.stop(b.n_samples, b.n_tokens)  # each seed's clock: the shared step
                for tr in list(self.live):
                    try:
                        with own_rng(tr):
                            done = tr.stepped(stop, starts[id(tr)])
                            if done:
                                tr.close_loop()
                    except DivergedError as e:
                        tr.progress.close()
                        leave(tr, e)
                        continue
                    if done:
                        leave(tr)
        except KeyboardInterrupt as e:
            for tr in list(self.live):
                with own_rng(tr):
                    tr.check()
                    checkpoint.save_run(tr)
                tr.progress.close()
                leave(tr, e)
        except BaseException as e:
            for tr in list(self.live):
                tr.progress.close()
                leave(tr, e)
            raise
        return [summaries[id(tr)] for tr in self.all]


def train_seeds(cfg: DictConfig) -> list[dict]:
    """Train the seeds of ``cfg.seed`` (a list) as one job; their summaries, in the seeds' order. Seeds that
    completed before are returned as recorded; cut ones resume from their checkpoints."""
    cfgs = seed_configs(cfg)
    seeds = [int(c.seed) for c in cfgs]
    dirs = [resolve_run_dir(c) for c in cfgs]
    t0 = time.perf_counter()
    with contextlib.ExitStack() as held, StopFlag() as stop:
        for d in dirs:
            held.enter_context(lock.hold(d))
        opened = []
        for c, d in zip(cfgs, dirs):
            opened.append(open_run(c, d, stop))
            if opened[-1][0] is not None:
                opened[-1][0].rng = checkpoint.rng_state(opened[-1][0].device)  # as its own set-up left them
        done = {i: o[2] for i, o in enumerate(opened) if o[2] is not None}
        if any(o[0] is None and o[2] is None for o in opened):  # a signal during set-up
            return [ended(None, None, stop)]
        todo = [i for i in range(len(cfgs)) if i not in done]
        summaries = dict(done)
        if todo:
            group = Group([opened[i][0] for i in todo], seeds)
            for i, summary in zip(todo, group.run([opened[i][1] for i in todo], stop)):
                summaries[i] = summary
    out = [summaries[i] for i in range(len(cfgs))]
    print(f"seeds {seeds} trained as one job in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    for i in todo:
        ended(opened[i][0], out[i], stop)  # interrupted: SLURM's hand-over; diverged: DivergedError (after all)
    return out
