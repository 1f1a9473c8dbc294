"""Many members in one pass: K cells of one shape (the seeds of one arm) trained together
as one grouped network (resbench.model.packed), each with its own initialisation, data
order and augmentation, and its own TrainResult, as if it had been trained alone.

What packs: the same spec and training config but for the seed, no torch.compile, no
learning-rate warm-up (it depends on each member's own running error, while the
members share one optimizer step), and data of equal sizes. Everything else runs one
cell at a time, as before. A diverging member is dropped from the loss and the others
go on; its record says where it diverged, like a lone run's.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import torch

from resbench.errors import UsageError
from resbench.spec import NetSpec
from resbench.train.loop import EpochStats, TrainConfig, TrainResult, check_fits, check_train_config, lr_at


def pack_key(spec: NetSpec, cfg: TrainConfig) -> tuple:
    """Cells with equal keys can be trained together."""
    return (spec.name, tuple(sorted(replace(cfg, seed=0).key_fields().items())))


def why_not_packable(spec: NetSpec, cfg: TrainConfig) -> str | None:
    if cfg.compile:
        return "--compile traces one network at a time"
    if cfg.cuda_graphs:
        return "--cuda-graphs captures one network's step (packing with graphs is not built yet)"
    if cfg.warmup == "on" or (cfg.warmup == "auto" and spec.depth >= 110):
        return "the paper's warm-up follows each member's own training error"
    return None


def _errors(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Wrong predictions per member: ``out`` [B, K, classes], ``y`` [B, K] -> [K]."""
    return (out.argmax(2) != y).sum(0)


def _losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each member's mean cross-entropy in one kernel: [B, K, classes], [B, K] -> [K]."""
    return torch.nn.functional.cross_entropy(out.permute(0, 2, 1), y, reduction="none").mean(0)


def train_packed(spec: NetSpec, configs: list[TrainConfig], datas: list, progress=None) -> list[TrainResult]:
    """Train ``len(configs)`` members of ``spec`` together; one TrainResult per member."""
    from resbench.limits import check_fits as check_memory
    from resbench.measure.analytic import analytic_complexity
    from resbench.model import build_model
    from resbench.model.packed import pack_models
    from resbench.runtime import autocast, grad_scaler, nhwc_backward_crashes, resolve_device
    from resbench.train.loader import DeviceLoader, channel_stats

    k = len(configs)
    cfg = configs[0]
    for c, d in zip(configs, datas):
        check_train_config(c)
        check_fits(spec, d)
        if pack_key(spec, c) != pack_key(spec, cfg):
            raise UsageError("packed members must share the spec and every training setting but the seed")
    reason = why_not_packable(spec, cfg)
    if reason:
        raise UsageError(f"cannot pack {spec.name}: {reason}")
    device = resolve_device(cfg.device)
    if cfg.dtype == "fp16" and device.type != "cuda":
        raise UsageError("fp16 training needs CUDA (loss scaling); use bf16 or fp32")
    check_memory(spec, batch=cfg.batch_size * k, train=True, device=device)
    members = []
    for c in configs:
        m = build_model(spec, init_weights=False)
        m.reset_parameters(seed=c.seed)  # each member exactly as a lone run of its seed starts
        members.append(m)
    model = pack_models(members).to(device)
    channels_last = cfg.channels_last and not (device.type == "cpu" and nhwc_backward_crashes(spec))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    stats = [channel_stats(d.train_x) for d in datas]
    train_loaders = [DeviceLoader(d.train_x, d.train_y, cfg.batch_size, device=device, mean=m, std=s, train=True,
                                  seed=c.seed, channels_last=False) for c, d, (m, s) in zip(configs, datas, stats)]
    test_loaders = [DeviceLoader(d.test_x, d.test_y, 1000, device=device, mean=m, std=s, train=False)
                    for d, (m, s) in zip(datas, stats)]
    if len({len(t) for t in train_loaders}) != 1 or len({len(d.test_y) for d in datas}) != 1:
        raise UsageError("packed members need data sets of equal size")
    opt = torch.optim.SGD(model.parameters(), lr=cfg.base_lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scaler = grad_scaler(device, enabled=cfg.dtype == "fp16")
    steps = len(train_loaders[0])
    total_steps = steps * cfg.epochs
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    histories: list[list[EpochStats]] = [[] for _ in range(k)]
    diverged: list[str | None] = [None] * k
    first_loss: list[float | None] = [None] * k
    alive = torch.ones(k, dtype=torch.bool, device=device)  # members still in the loss; rebuilt only when one diverges
    step = images = 0
    step_total = epoch_total = 0.0
    t_run = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        t_epoch = time.perf_counter()
        loss_sums = torch.zeros(k, device=device)
        wrong = torch.zeros(k, device=device, dtype=torch.long)
        seen, step_s = 0, 0.0
        iters = [t.batches(epoch) for t in train_loaders]
        for i in range(steps):
            batches = [next(it) for it in iters]
            x = torch.cat([b[0] for b in batches], 1).contiguous(memory_format=fmt)
            y = torch.stack([b[1] for b in batches], 1)  # B, K
            t_step = time.perf_counter()
            lr = lr_at(cfg, step / total_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            with autocast(device, cfg.dtype):
                out = model(x)
                losses = _losses(out, y)
            scaler.scale(torch.where(alive, losses, torch.zeros_like(losses)).sum()).backward()
            scaler.step(opt)
            scaler.update()
            loss_sums += losses.detach().float() * len(y)
            wrong += _errors(out.detach(), y)
            seen += len(y)
            step += 1
            if device.type == "cpu" or i % 50 == 0:
                for j, lv in enumerate(losses.detach().float().tolist()):
                    if diverged[j]:
                        continue
                    first_loss[j] = lv if first_loss[j] is None else first_loss[j]
                    if not math.isfinite(lv) or lv > max(50.0, 20 * first_loss[j]):
                        diverged[j] = f"epoch {epoch + 1}, step {i + 1}"
                        alive[j] = False
            step_s += time.perf_counter() - t_step
            if progress:
                progress(f"{k} packed · epoch {epoch + 1}/{cfg.epochs}", i + 1, steps)
        train_loss, train_wrong = (loss_sums / seen).tolist(), (wrong.float() / seen).tolist()
        epoch_train_s = time.perf_counter() - t_epoch
        test_errors = _evaluate(model, test_loaders, device, cfg.dtype, fmt)
        images += seen * k
        step_total += step_s
        epoch_total += epoch_train_s
        for j in range(k):
            if diverged[j] is None and not math.isfinite(train_loss[j]):
                diverged[j] = f"epoch {epoch + 1}"
            if diverged[j] is None:
                histories[j].append(EpochStats(epoch + 1, lr, train_loss[j], train_wrong[j], test_errors[j],
                                               time.perf_counter() - t_epoch, step_s))
        if all(diverged):
            break
    seconds = time.perf_counter() - t_run
    c = analytic_complexity(spec)
    results = []
    for j, conf in enumerate(configs):
        h = histories[j]
        notes = [f"packed: trained together with {k - 1} other member(s) in one grouped network"]
        if diverged[j]:
            notes.append(f"diverged at {diverged[j]}: loss became non-finite or exploded; this member stopped")
        if channels_last != cfg.channels_last:
            notes.append("trained in NCHW, not channels-last (oneDNN NHWC crash guard, see resbench.runtime)")
        results.append(TrainResult(
            spec=spec.name, params=c.params, macs=c.macs, epochs=len(h), history=tuple(h),
            final_train_error=h[-1].train_error if h and not diverged[j] else None,
            final_test_error=h[-1].test_error if h and not diverged[j] else None,
            diverged=diverged[j] is not None, diverged_at=diverged[j], seconds=seconds,
            images_per_second=images / epoch_total if epoch_total else 0.0,
            data_fraction=1 - step_total / epoch_total if epoch_total else 0.0,
            test_split=datas[j].test_split, effective_batch_size=conf.batch_size, lr=conf.base_lr,
            notes=tuple(notes), packed=k))
    return results


def _evaluate(model, loaders, device, dtype: str, fmt) -> list[float]:
    from resbench.runtime import autocast

    model.eval()
    k = len(loaders)
    wrong = torch.zeros(k, dtype=torch.long, device=device)
    total = 0
    with torch.inference_mode(), autocast(device, dtype):
        for batches in zip(*loaders):
            x = torch.cat([b[0] for b in batches], 1).contiguous(memory_format=fmt)
            wrong += _errors(model(x), torch.stack([b[1] for b in batches], 1))
            total += len(batches[0][1])
    model.train()
    return (wrong.float() / total).tolist()
