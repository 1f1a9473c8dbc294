"""Per-epoch training checkpoints: written atomically, checked whole before use.

A checkpoint holds a run's identity (the spec and every member's record key) and
everything the training loop carries from one epoch to the next (weights, optimizer and
scaler state, the loop state). Before a run resumes from one it is checked whole: the
identity, then the contents against the network and optimizer being built (every
tensor's shape and dtype, an optimizer state for every parameter, the loop state's
fields, types and ranges). A checkpoint of another run is refused and left alone; a
damaged one is moved aside to ``<name>.bad`` with one warning, and the run starts over.
A special file (a FIFO, a device) where the checkpoint belongs is refused without
opening it. Temporary files left by a write that was killed are removed first.
"""

from __future__ import annotations

import glob
import math
import os
import stat
from pathlib import Path
from typing import Callable

import torch

from resbench.errors import UsageError
from resbench.store import atomic_output, remove_temporaries, special_kind, temp_prefix

CHECKPOINT_VERSION = 1
Say = Callable[[str], None]


class Damaged(ValueError):
    """A checkpoint of this run whose contents cannot be resumed from (the reason)."""


class Checkpoint:
    """A resumable training state at the end of an epoch, written atomically to ``path``.

    ``identity`` (the spec and every member's record key fields) is stored with it: a
    file made by another config is refused, never resumed from and never overwritten.
    ``warn``: where a damaged checkpoint or a killed write is reported (one line each);
    ``say``: where resuming is reported."""

    def __init__(self, path: str | os.PathLike, identity: dict, warn: Say | None = None, say: Say | None = None) -> None:
        self.path = Path(path)
        self.identity = identity
        self.warn = warn or (lambda _: None)
        self.say = say or (lambda _: None)

    def load(self) -> dict | None:
        """The stored document of this run, or None when there is none (or it was damaged
        and has been moved aside). Its contents are checked by ``check_contents``."""
        killed = self._remove_stale_temporaries()
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            if killed:
                self.warn(f"a checkpoint write to {self.path} was interrupted before any epoch was kept; "
                          "its temporary file was removed and training starts from epoch 1")
            return None
        if not stat.S_ISREG(mode):
            raise UsageError(f"checkpoint {self.path} is {special_kind(mode)}, not a file: remove it, "
                             "or give another results folder")
        try:
            doc = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file
            return self.set_aside(f"it cannot be read ({type(e).__name__})")
        if not isinstance(doc, dict) or doc.get("version") != CHECKPOINT_VERSION or "identity" not in doc:
            return self.set_aside("it is not a resbench training checkpoint")
        if doc["identity"] != self.identity:
            theirs, ours = doc["identity"], self.identity
            if not isinstance(theirs, dict):
                return self.set_aside("its identity is not a table")
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise UsageError(f"checkpoint {self.path} belongs to another run (differs in {', '.join(diff) or 'members'}); "
                             "it was left as it is: delete it or use another results folder")
        return doc

    def set_aside(self, why: str) -> None:
        """Move a damaged checkpoint to ``<name>.bad`` (replacing an older one) and say so once."""
        bad = self.path.with_name(self.path.name + ".bad")
        try:
            os.replace(self.path, bad)
            where = f"moved to {bad}"
        except OSError as e:
            where = f"left in place ({e.strerror})"
        self.warn(f"checkpoint {self.path} is damaged: {why}; {where}, and training starts over from epoch 1")
        return None

    def _remove_stale_temporaries(self) -> bool:
        """Remove temporary files of this checkpoint left by a write that was killed (the
        run holds its cell's lock, so no other process is writing them). True if any."""
        return remove_temporaries(self.path.parent, glob.escape(temp_prefix(self.path)) + "*")

    def save(self, doc: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as tmp:
            torch.save({"version": CHECKPOINT_VERSION, "identity": self.identity, **doc}, tmp)

    def remove(self) -> None:
        self._remove_stale_temporaries()
        self.path.unlink(missing_ok=True)


# The loop state's fields and what each holds (k: members, e: epochs finished).
_NUMBERS = ("step_seconds", "epoch_seconds", "seconds_before")
_EPOCH_FIELDS = ("epoch", "lr", "train_loss", "train_error", "test_error", "seconds", "step_seconds")


def check_contents(doc: dict, model: torch.nn.Module, opt: torch.optim.Optimizer, k: int, epochs: int,
                   state_fields: set[str]) -> None:
    """Raise Damaged (saying why) unless ``doc`` can resume a run of ``k`` members of
    ``model`` trained with ``opt`` for ``epochs``; ``state_fields``: the loop state's fields."""
    for part, kind in (("state", dict), ("model", dict), ("opt", dict), ("scaler", dict)):
        if not isinstance(doc.get(part), kind):
            raise Damaged(f"its {part} is missing or not a table")
    _check_weights(doc["model"], model.state_dict())
    _check_optimizer(doc["opt"], opt)
    _check_state(doc["state"], k, epochs, state_fields)


def _check_weights(stored: dict, ours: dict) -> None:
    if set(stored) != set(ours):
        odd = sorted(set(stored) ^ set(ours), key=str)[0]
        raise Damaged(f"its weights do not match the network ({odd!r} is {'extra' if odd in stored else 'missing'})")
    for name, t in ours.items():
        s = stored[name]
        if not isinstance(s, torch.Tensor) or s.shape != t.shape or s.dtype != t.dtype:
            got = f"shape {tuple(s.shape)}" if isinstance(s, torch.Tensor) else type(s).__name__
            raise Damaged(f"weight {name} holds {got}, the network has shape {tuple(t.shape)}")


def _check_optimizer(stored: dict, opt: torch.optim.Optimizer) -> None:
    groups, state = stored.get("param_groups"), stored.get("state")
    if not isinstance(groups, list) or not isinstance(state, dict) or len(groups) != len(opt.param_groups):
        raise Damaged("its optimizer state is not the optimizer's")
    params = [p for g in opt.param_groups for p in g["params"]]
    ids = [i for g in groups if isinstance(g, dict) for i in (g.get("params") or [])]
    if len(ids) != len(params) or len(set(ids)) != len(ids):
        raise Damaged("its optimizer state covers another set of parameters")
    for own, got in zip(opt.param_groups, groups):  # the recipe's settings (lr is set every step)
        for name, value in own.items():
            if name not in ("params", "lr", "initial_lr") and name in got and (type(got[name]) is not type(value)
                                                                               or got[name] != value):
                raise Damaged(f"its optimizer's {name} is {got[name]!r}, this run's is {value!r}")
    momentum = any(g.get("momentum", 0) for g in opt.param_groups)
    for i, p in zip(ids, params):
        buf = state.get(i, {}).get("momentum_buffer") if isinstance(state.get(i, {}), dict) else "?"
        if buf is None and not momentum:
            continue
        if not isinstance(buf, torch.Tensor) or buf.shape != p.shape or buf.dtype != p.dtype:
            raise Damaged("its optimizer state is empty or does not fit the parameters")
        if not bool(torch.isfinite(buf).all()):
            raise Damaged("its optimizer state holds values that are not finite")


def _check_state(s: dict, k: int, epochs: int, fields: set[str]) -> None:
    unknown = sorted(set(s) - fields, key=str)
    if unknown or "epoch" not in s or "histories" not in s:
        raise Damaged(f"its loop state has unknown field {unknown[0]!r}" if unknown else "its loop state is incomplete")
    if s.get("k") != k:
        raise Damaged(f"it holds {s.get('k')!r} member(s), this run trains {k}")
    e = s["epoch"]
    if not _whole(e) or not 1 <= e < epochs:
        raise Damaged(f"it says epoch {e!r} of {epochs} (a checkpoint is kept after epochs 1 to {epochs - 1})")
    if not all(_whole(s.get(n, 0)) and s.get(n, 0) >= 0 for n in ("step", "images")):
        raise Damaged("its step or image count is not a whole number >= 0")
    if not all(_finite(s.get(n, 0.0)) and s.get(n, 0.0) >= 0 for n in _NUMBERS):
        raise Damaged("its recorded times are not finite numbers >= 0")
    if not all(isinstance(s.get(n, False), bool) for n in ("warm", "stopped_early")) or s.get("stopped_early"):
        raise Damaged("its warm-up or stop flags are not what a running run keeps")
    for name, ok in (("diverged", lambda x: x is None or isinstance(x, str)), ("first_loss", lambda x: x is None or _finite(x))):
        values = s.get(name, [None] * k)
        if not isinstance(values, list) or len(values) != k or not all(ok(x) for x in values):
            raise Damaged(f"its {name} is not one entry per member")
    recent = s.get("recent_errors", [])
    if not isinstance(recent, list) or not all(_finite(x) and 0 <= x <= 1 for x in recent):
        raise Damaged("its recent errors are not fractions")
    _check_histories(s["histories"], k, e)


def _check_histories(histories, k: int, epoch: int) -> None:
    if not isinstance(histories, list) or len(histories) != k or not all(isinstance(h, list) for h in histories):
        raise Damaged("its history is not one list of epochs per member")
    for h in histories:
        if len(h) > epoch:
            raise Damaged(f"its history holds {len(h)} epochs of {epoch} finished")
        for i, row in enumerate(h):
            if not isinstance(row, dict) or set(row) != set(_EPOCH_FIELDS):
                raise Damaged("its history holds an entry that is not an epoch's statistics")
            if row["epoch"] != i + 1 or not all(_finite(row[f]) and row[f] >= 0 for f in _EPOCH_FIELDS):
                raise Damaged(f"its history's epoch {i + 1} holds a value that is not a finite number >= 0")
            if not (row["train_error"] <= 1 and row["test_error"] <= 1):
                raise Damaged(f"its history's epoch {i + 1} holds an error above 1")


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
