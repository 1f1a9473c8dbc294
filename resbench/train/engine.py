"""The one training engine: K >= 1 members of one spec, trained step by step together.

A lone run is a pack of one: the plain network, its own loader, the usual loss. K > 1
members (the seeds of one arm) run as one grouped network (resbench.model.packed), each
with its own initialisation, data order and augmentation, and get their own TrainResult
as if trained alone. Every rule lives here once: precision and layout guards, the
learning-rate schedule and warm-up, divergence, DDP, CUDA graphs and compile (lone runs
only), progress, per-epoch checkpoints and resume, and the result's assembly.

Resume is exact: the loader's draw is a function of (seed, epoch), the learning rate a
function of the step, and a checkpoint holds everything else the loop carries (weights,
optimizer and scaler state, the divergence and warm-up state, the history so far).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch

from resbench.cost import analytic_complexity
from resbench.errors import ConfigError, UsageError
from resbench.hooks import Progress
from resbench.limits import check_fits as check_memory
from resbench.measure.busy import Meter
from resbench.model import build_model
from resbench.model.packed import pack_models
from resbench.runtime import (
    autocast,
    grad_scaler,
    nhwc_backward_crashes,
    resolve_device,
)
from resbench.spec import NetSpec
from resbench.store import atomic_output
from resbench.train.checkpoint import Checkpoint, Damaged, check_contents
from resbench.train.config import TrainConfig
from resbench.train.graphs import GraphedStep
from resbench.train.loader import DeviceLoader, channel_stats
from resbench.results import EpochStats, TrainResult, pack_correct
from resbench.train.recipe import check_fits, lr_at

NHWC_NOTE = ("trained in NCHW, not channels-last: oneDNN's CPU backward of a stride-2 1x1 conv with fewer than "
             "8 input channels corrupts the heap in NHWC (found with torch 2.14.1)")


def why_not_packable(spec: NetSpec, cfg: TrainConfig) -> str | None:
    """Why members of ``spec`` under ``cfg`` cannot share one grouped network (None: they can)."""
    if cfg.compile:
        return "`compile` traces one network at a time"
    if cfg.cuda_graphs:
        return "`cuda_graphs` captures one network's step (packing with graphs is not built yet)"
    if cfg.warmup == "on" or (cfg.warmup == "auto" and spec.depth >= 110):
        return "the paper's warm-up follows each member's own training error"
    return None


@dataclass
class _State:
    """What the loop carries from epoch to epoch: exactly what a checkpoint holds."""

    k: int
    epoch: int = 0  # epochs finished
    step: int = 0
    histories: list = field(default_factory=list)
    diverged: list = field(default_factory=list)
    first_loss: list = field(default_factory=list)
    warm: bool = False
    recent_errors: list = field(default_factory=list)
    images: int = 0
    step_seconds: float = 0.0
    epoch_seconds: float = 0.0
    seconds_before: float = 0.0  # wall time of the run before a resume
    stopped_early: bool = False
    test_correct: list = field(default_factory=list)  # per member: the last evaluation's right answers, packed

    def __post_init__(self) -> None:
        self.histories = self.histories or [[] for _ in range(self.k)]
        self.diverged = self.diverged or [None] * self.k
        self.first_loss = self.first_loss or [None] * self.k


def _checkpoint_doc(state: _State, model, opt, scaler) -> dict:
    return {"state": {**asdict(state), "histories": [[asdict(h) for h in hs] for hs in state.histories]},
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "opt": opt.state_dict(), "scaler": scaler.state_dict()}


def _restore(doc: dict, model, opt, scaler) -> _State:
    model.load_state_dict(doc["model"])
    opt.load_state_dict(doc["opt"])
    scaler.load_state_dict(doc["scaler"])
    s = dict(doc["state"])
    s["histories"] = [[EpochStats(**h) for h in hs] for hs in s["histories"]]
    return _State(**s)


def _resume(checkpoint: Checkpoint, parts: "_Parts", k: int, epochs: int) -> _State | None:
    """The loop state to go on from, restored into ``parts``; None to start over (no
    checkpoint, or a damaged one, moved aside). Checked whole before anything is loaded."""
    doc = checkpoint.load()
    if doc is None:
        return None
    try:
        check_contents(doc, parts.model, parts.opt, k, epochs, set(_State.__dataclass_fields__))
    except Damaged as e:
        return checkpoint.set_aside(str(e))
    state = _restore(doc, parts.model, parts.opt, parts.scaler)
    checkpoint.say(f"resuming from the checkpoint after epoch {state.epoch} of {epochs} ({checkpoint.path})")
    return state


class _Members:
    """How K members are fed and scored: one plain net (K = 1) or one grouped net (K > 1)."""

    def __init__(self, k: int, fmt) -> None:
        self.k, self.fmt = k, fmt
        self._ce = torch.nn.CrossEntropyLoss()

    def inputs(self, batches: list) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k == 1:
            return batches[0]
        x = torch.cat([b[0] for b in batches], 1).contiguous(memory_format=self.fmt)
        return x, torch.stack([b[1] for b in batches], 1)  # B, K

    def losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy, shape [K]."""
        if self.k == 1:
            return self._ce(out, y).reshape(1)
        return torch.nn.functional.cross_entropy(out.permute(0, 2, 1), y, reduction="none").mean(0)

    def errors(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Wrong predictions per member, shape [K]."""
        return (~self.correct(out, y)).sum(0)

    def correct(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Right predictions per image and member, shape [B, K]."""
        if self.k == 1:
            return (out.argmax(1) == y).reshape(-1, 1)
        return out.argmax(2) == y


def _evaluate(model, members: _Members, loaders: list[DeviceLoader], device, dtype: str) -> tuple[list[float], list[str]]:
    """Each member's test error, and which test images it got right (packed bits, in the
    test set's fixed order: resbench.results.pack_correct)."""
    model.eval()
    right = []
    with torch.inference_mode(), autocast(device, dtype):
        for batches in zip(*(t.batches(0) for t in loaders)):
            x, y = members.inputs(list(batches))
            right.append(members.correct(model(x), y))
    model.train()
    right_all = torch.cat(right).cpu().numpy()  # images, K
    return [1 - float(right_all[:, j].mean()) for j in range(members.k)], [pack_correct(right_all[:, j]) for j in range(members.k)]


def _check(spec: NetSpec, configs: list[TrainConfig], datas: list, dist, model) -> torch.device:
    """Every rule that refuses a run, before any work."""
    if not configs or len(configs) != len(datas):
        raise UsageError("training needs one data set per member")
    cfg = configs[0]
    for c, d in zip(configs, datas):
        check_fits(spec, d)
        if len(d.train_y) < 1 or len(d.test_y) < 1:
            raise UsageError(f"{d.name} has {len(d.train_y)} training and {len(d.test_y)} test image(s): both must be non-empty")
        if (spec.name, {**c.key_fields(), "seed": 0}) != (spec.name, {**cfg.key_fields(), "seed": 0}):
            raise UsageError("packed members must share the spec and every training setting but the seed")
    if len(configs) > 1:
        reason = why_not_packable(spec, cfg)
        if reason or dist is not None or model is not None:
            raise UsageError(f"cannot pack {spec.name}: {reason or 'a distributed run or a given model trains alone'}")
        if len({len(d.train_y) for d in datas}) != 1 or len({len(d.test_y) for d in datas}) != 1:
            raise UsageError("packed members need data sets of equal size")
    device = dist.device if dist else resolve_device(cfg.device)
    if cfg.dtype == "fp16" and device.type != "cuda":
        raise UsageError("fp16 training needs CUDA (loss scaling); use bf16 or fp32")
    if cfg.cuda_graphs and (device.type != "cuda" or dist is not None):
        raise ConfigError("cuda_graphs", "captures a one-process CUDA step: it needs `device='cuda'` and one process (no torchrun, no `nproc`)")
    return device


@dataclass
class _Parts:
    """Everything one run trains with, built once by ``_build``."""

    model: torch.nn.Module  # the network whose weights are kept (plain or grouped)
    net: torch.nn.Module  # what runs forward: the model, DDP-wrapped or compiled
    members: _Members
    train_loaders: list
    test_loaders: list
    opt: torch.optim.Optimizer
    scaler: object
    graphed: object  # resbench.train.graphs.GraphedStep, or None
    channels_last: bool
    per_rank: int  # this rank's share of the global batch


def _build(spec: NetSpec, configs: list[TrainConfig], datas: list, dist, model, device) -> _Parts:
    k, cfg = len(configs), configs[0]
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    per_rank = max(1, cfg.batch_size // world)  # each rank trains its shard of one global batch
    check_memory(spec, batch=per_rank * k, train=True, device=device)
    torch.manual_seed(cfg.seed)
    if model is None:
        nets = []
        for c in configs:
            m = build_model(spec, init_weights=False)
            m.reset_parameters(seed=c.seed)  # paired: shared parameters start equal across arms
            nets.append(m)
        if k == 1:
            model = nets[0]
        else:
            model = pack_models(nets)
    model = model.to(device)
    channels_last = bool(cfg.channels_last) and not (device.type == "cpu" and nhwc_backward_crashes(spec))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = dist.wrap(model) if dist else model
    if cfg.compile:
        net = torch.compile(net)
    # A lone run's loader lays out its own batches; a pack lays out the concatenation.
    own_layout = channels_last and k == 1
    train_loaders, test_loaders = [], []
    for c, d in zip(configs, datas):
        mean, std = channel_stats(d.train_x)
        train_loaders.append(DeviceLoader(d.train_x, d.train_y, per_rank, device=device, mean=mean, std=std, train=True,
                                          seed=c.seed, channels_last=own_layout, drop_last=world > 1,
                                          shard=(rank, world)))
        test_loaders.append(DeviceLoader(d.test_x, d.test_y, 1000, device=device, mean=mean, std=std, train=False,
                                         channels_last=own_layout))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    graphed = None
    if cfg.cuda_graphs:
        graphed = GraphedStep(net, model.parameters(), cfg, device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return _Parts(model, net, _Members(k, fmt), train_loaders, test_loaders, opt,
                  grad_scaler(device, enabled=cfg.dtype == "fp16"), graphed, channels_last, per_rank)


def _lr(cfg: TrainConfig, state: _State, recent: deque, total_steps: int) -> float:
    """The schedule's learning rate at this step, or the paper's warm-up lr/10 while it lasts."""
    lr = lr_at(cfg, state.step / total_steps)
    if state.warm and state.step < 0.1 * total_steps and (len(recent) < 10 or sum(recent) / len(recent) > 0.8):
        return cfg.base_lr * 0.1
    state.warm = False  # once out of warm-up, never back (as the paper)
    return lr


def _step(parts: _Parts, cfg: TrainConfig, x, y, lr: float, alive, device) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step of every member; (loss per member, wrong predictions per member)."""
    if parts.graphed is not None:
        loss, batch_wrong = parts.graphed(x, y, lr)
        return loss.detach().reshape(1), batch_wrong.reshape(1)
    for group in parts.opt.param_groups:
        group["lr"] = lr
    parts.opt.zero_grad(set_to_none=True)
    with autocast(device, cfg.dtype):
        out = parts.net(x)
        losses = parts.members.losses(out, y)
    # A diverged member leaves the loss; the others go on.
    parts.scaler.scale(torch.where(alive, losses, torch.zeros_like(losses)).sum()).backward()
    parts.scaler.step(parts.opt)
    parts.scaler.update()
    return losses.detach().float(), parts.members.errors(out.detach(), y)


def _train_epoch(parts: _Parts, cfg: TrainConfig, state: _State, recent: deque, device, progress, label: str,
                 rank: int) -> tuple[torch.Tensor, torch.Tensor, int, float, float]:
    """One pass over the training data: (loss sums, wrong counts, images per member, step seconds, last lr)."""
    k, epoch = parts.members.k, state.epoch
    steps = len(parts.train_loaders[0])
    total_steps = steps * cfg.epochs
    loss_sums = torch.zeros(k, device=device)
    wrong = torch.zeros(k, device=device, dtype=torch.long)
    alive = torch.tensor([d is None for d in state.diverged], device=device)
    seen, step_s, lr = 0, 0.0, cfg.base_lr
    iters = [t.batches(epoch) for t in parts.train_loaders]
    for i in range(steps):
        x, y = parts.members.inputs([next(it) for it in iters])
        t_step = time.perf_counter()
        lr = _lr(cfg, state, recent, total_steps)
        losses, batch_wrongs = _step(parts, cfg, x, y, lr, alive, device)
        loss_sums += losses * len(y)
        wrong += batch_wrongs
        seen += len(y)
        state.step += 1
        if device.type == "cpu" or i % 50 == 0 or state.warm:
            # On CUDA this syncs, so only every 50 steps (and in warm-up, which needs the error).
            recent.append(batch_wrongs[0].item() / len(y))
            for j, lv in enumerate(losses.tolist()):
                if state.diverged[j]:
                    continue
                state.first_loss[j] = lv if state.first_loss[j] is None else state.first_loss[j]
                if not math.isfinite(lv) or lv > max(50.0, 20 * state.first_loss[j]):
                    state.diverged[j] = f"epoch {epoch + 1}, step {i + 1}"
                    alive[j] = False
        step_s += time.perf_counter() - t_step  # exact on CPU; on CUDA host time (async)
        if progress and rank == 0:
            progress(f"{label}epoch {epoch + 1}/{cfg.epochs}", i + 1, steps)
        if all(state.diverged):
            break
    return loss_sums, wrong, seen, step_s, lr


def train_members(spec: NetSpec, configs: list[TrainConfig], datas: list, *, progress: Progress | None = None,
                  dist=None, model: torch.nn.Module | None = None,
                  on_epoch: Callable[[EpochStats], bool] | None = None,
                  final_weights: str | None = None, checkpoint: Checkpoint | None = None,
                  keep_checkpoint: bool = False) -> list[TrainResult]:
    """Train ``len(configs)`` members of ``spec`` (configs equal but for the seed), one
    TrainResult each. ``model``: train this initialised network in place (K = 1).
    ``on_epoch``: called after each evaluated epoch of a lone run; False stops it there.
    ``final_weights``: write the final state_dict there (rank 0, K = 1). ``checkpoint``:
    resume from it if it exists, save it after every epoch, remove it at the end unless
    ``keep_checkpoint``."""
    if configs and configs[0].dtype == "auto":
        raise UsageError("dtype auto is decided by a measurement before training: resolve it with "
                         "resbench.train.budget.resolve_dtype(spec, config, data) (commands do this themselves)")
    device = _check(spec, configs, datas, dist, model)
    k, cfg = len(configs), configs[0]
    rank, world = (dist.rank, dist.world) if dist else (0, 1)
    parts = _build(spec, configs, datas, dist, model, device)
    state = _State(k, warm=cfg.warmup == "on" or (cfg.warmup == "auto" and spec.depth >= 110))
    resumed = _resume(checkpoint, parts, k, cfg.epochs) if checkpoint is not None else None
    resumed_after = resumed.epoch if resumed is not None else None
    if resumed is not None:
        state = resumed
        # The restored epochs are told to on_epoch as if they had just run, so a search's
        # pruner (or a tracker) sees the same sequence an uninterrupted run gives it.
        if on_epoch is not None and k == 1 and not all(on_epoch(h) for h in state.histories[0] if h.epoch < cfg.epochs):
            state.stopped_early = True
    recent = deque(state.recent_errors, maxlen=50)
    label = f"{k} packed · " if k > 1 else ""
    meter = Meter().start()
    t_run = time.perf_counter()
    while state.epoch < cfg.epochs and not state.stopped_early:
        parts.model.train()
        t_epoch = time.perf_counter()
        trained = _train_epoch(parts, cfg, state, recent, device, progress, label, rank)
        if not _end_epoch(parts, cfg, state, dist, device, trained, t_epoch):
            break  # every member diverged
        state.recent_errors = list(recent)
        if on_epoch is not None and state.epoch < cfg.epochs and not on_epoch(state.histories[0][-1]):
            state.stopped_early = True
            break
        if checkpoint is not None and rank == 0 and state.epoch < cfg.epochs:
            state.seconds_before += time.perf_counter() - t_run
            t_run = time.perf_counter()
            checkpoint.save(_checkpoint_doc(state, parts.model, parts.opt, parts.scaler))
    seconds = state.seconds_before + time.perf_counter() - t_run
    if final_weights and rank == 0:
        with atomic_output(final_weights) as tmp:  # never a half-written file
            torch.save({n: v.cpu() for n, v in parts.model.state_dict().items()}, tmp)
    notes = _run_notes(dist, parts.model, world, parts.channels_last != cfg.channels_last, parts.graphed is not None,
                       resumed_after)
    if checkpoint is not None and rank == 0 and not keep_checkpoint:
        checkpoint.remove()
    contention = meter.share()
    return [replace(_result(spec, c, d, state, j, seconds, parts.per_rank * world, world, notes, cfg.epochs),
                    contention=contention) for j, (c, d) in enumerate(zip(configs, datas))]


def _end_epoch(parts: _Parts, cfg: TrainConfig, state: _State, dist, device, trained, t_epoch: float) -> bool:
    """Sum an epoch's training figures (over ranks), mark members that diverged, evaluate,
    and append each live member's EpochStats; False (nothing evaluated) when all diverged."""
    loss_sums, wrong, seen, step_s, lr = trained
    k, epoch = len(state.histories), state.epoch
    sums = torch.stack([loss_sums, wrong.to(loss_sums.dtype), torch.full_like(loss_sums, float(seen))])
    if dist:
        sums = dist.all_reduce_sum(sums)
    loss_sum, wrong_sum, n_seen = sums.tolist()  # .tolist() synchronizes the device
    epoch_train_s = time.perf_counter() - t_epoch
    for j in range(k):
        if state.diverged[j] is None and not math.isfinite(loss_sum[j]):
            state.diverged[j] = f"epoch {epoch + 1}"
    if all(state.diverged):
        return False
    test_errors, state.test_correct = _evaluate(parts.model, parts.members, parts.test_loaders, device, cfg.dtype)
    state.images += int(n_seen[0]) * k
    state.step_seconds += step_s
    state.epoch_seconds += epoch_train_s
    for j in range(k):
        if state.diverged[j] is None:
            state.histories[j].append(EpochStats(epoch + 1, lr, loss_sum[j] / n_seen[j], wrong_sum[j] / n_seen[j],
                                                 test_errors[j], time.perf_counter() - t_epoch, step_s))
    state.epoch += 1
    return True


def _run_notes(dist, model, world: int, nchw_fallback: bool, graphed: bool, resumed: int | None) -> list[str]:
    notes = []
    if dist:
        # DDP keeps replicas in lock-step; check it rather than assume it.
        import torch.distributed as tdist

        checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)
        lo, hi = checksum.clone(), checksum.clone()
        tdist.all_reduce(lo, op=tdist.ReduceOp.MIN)
        tdist.all_reduce(hi, op=tdist.ReduceOp.MAX)
        if lo.item() != hi.item():
            notes.append("WARNING: parameters differ across ranks after training")
        else:
            notes.append(f"parameters identical across {world} ranks (checksum {hi.item():.6f})")
    if nchw_fallback:
        notes.append(NHWC_NOTE)
    if graphed:
        notes.append("CUDA graphs: forward + backward + SGD step replayed as one captured graph")
    if resumed is not None:
        notes.append(f"resumed from a checkpoint after epoch {resumed}")
    return notes


def _result(spec: NetSpec, cfg: TrainConfig, data, state: _State, j: int, seconds: float, batch: int, world: int,
            run_notes: list[str], epochs: int) -> TrainResult:
    h, diverged = state.histories[j], state.diverged[j]
    notes = [f"packed: trained together with {state.k - 1} other member(s) in one grouped network"] if state.k > 1 else []
    if diverged:
        notes.append(f"diverged at {diverged}: loss became non-finite or exploded; "
                     + ("this member stopped" if state.k > 1 else "run stopped"))
    notes += run_notes
    if state.stopped_early:
        notes.append(f"stopped early after epoch {len(h)} of {epochs} (pruned)")
    c = analytic_complexity(spec)
    done = bool(h) and not diverged
    return TrainResult(
        spec=spec.name, params=c.params, macs=c.macs, epochs=len(h), history=tuple(h),
        final_train_error=h[-1].train_error if done else None, final_test_error=h[-1].test_error if done else None,
        diverged=diverged is not None, diverged_at=diverged, seconds=seconds,
        images_per_second=state.images / state.epoch_seconds if state.epoch_seconds else 0.0,
        data_fraction=1 - state.step_seconds / state.epoch_seconds if state.epoch_seconds else 0.0,
        test_split=data.test_split, effective_batch_size=batch, lr=cfg.base_lr, world_size=world,
        notes=tuple(notes), stopped_early=state.stopped_early, packed=state.k,
        test_correct=state.test_correct[j] if done and state.test_correct else None,
        test_images=len(data.test_y) if done and state.test_correct else None,
        data_official=data.official)


def train(spec: NetSpec, cfg: TrainConfig, data, progress: Progress | None = None, dist=None,
          checkpoint: str | None = None, model: torch.nn.Module | None = None,
          on_epoch: Callable[[EpochStats], bool] | None = None, resume: Checkpoint | None = None,
          keep_checkpoint: bool = False) -> TrainResult:
    """Train ``spec`` alone (a pack of one). ``checkpoint``: write the final state_dict there
    (rank 0); ``resume``: the per-epoch checkpoint to resume from and keep up to date."""
    return train_members(spec, [cfg], [data], progress=progress, dist=dist, model=model, on_epoch=on_epoch,
                         final_weights=checkpoint, checkpoint=resume, keep_checkpoint=keep_checkpoint)[0]


def pack_key(spec: NetSpec, cfg: TrainConfig) -> tuple:
    """Cells with equal keys can be trained together."""
    return (spec.name, tuple(sorted({**cfg.key_fields(), "seed": 0}.items())))


def train_packed(spec: NetSpec, configs: list[TrainConfig], datas: list, progress: Progress | None = None,
                 resume: Checkpoint | None = None) -> list[TrainResult]:
    """Train ``len(configs)`` members of ``spec`` together, one TrainResult each."""
    if len(configs) > 1:
        reason = why_not_packable(spec, configs[0])
        if reason:
            raise UsageError(f"cannot pack {spec.name}: {reason}")
    return train_members(spec, configs, datas, progress=progress, checkpoint=resume)


def evaluate(model, loader: DeviceLoader, device, dtype: str) -> float:
    """Test error of one network on one loader, in eval mode (BN running statistics)."""
    return _evaluate(model, _Members(1, torch.contiguous_format), [loader], device, dtype)[0][0]
