"""Parameters and MACs straight from a NetSpec, without building the network.

Pure Python and exact: it reproduces fvcore's conv + linear count and PyTorch's
parameter count to the unit (tests check every preset and random specs), so that
`resbench list` needs no torch and a search can score thousands of candidates in
milliseconds. fvcore stays the reference: `resbench show` counts with it.

MACs are multiply-accumulates for one image; FLOPs = 2 x MACs. fvcore calls MACs
"flops", and the paper's "FLOPs" (Table 1) are multiply-adds too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resbench.spec import NetSpec


@dataclass(frozen=True)
class StageCost:
    """One row of the paper's Table 1."""

    name: str  # "stem", "layer1".."layerN", "head"
    blocks: int  # residual/plain blocks in the stage (0 for stem and head)
    out_channels: int
    out_size: int  # spatial side of the stage's output (stem: after conv1, before max-pool)
    params: int
    macs: int  # conv + linear multiply-accumulates for one image


@dataclass(frozen=True)
class Complexity:
    spec: str  # canonical spec string
    input_size: int
    params: int
    trainable_params: int
    macs: int  # conv + linear multiply-accumulates, one image
    stages: tuple[StageCost, ...]
    counted_by: str  # "fvcore" or "analytic"
    other_ops: dict[str, int] = field(default_factory=dict)  # fvcore's counts beyond conv/linear (BN, pooling)
    uncounted_ops: dict[str, int] = field(default_factory=dict)  # ops fvcore saw but could not count
    layers: tuple = ()  # LayerCost rows (show --depth block|layer), forward order; empty unless asked
    backward_flops: int | None = None  # FlopCounterMode's count of one image's backward (reference models)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def to_dict(self) -> dict:
        return {
            "spec": self.spec,
            "input_size": self.input_size,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "macs": self.macs,
            "flops": self.flops,
            "counted_by": self.counted_by,
            "other_ops": dict(self.other_ops),
            "uncounted_ops": dict(self.uncounted_ops),
            "stages": [vars(s).copy() for s in self.stages],
            **({"layers": [vars(r).copy() for r in self.layers]} if self.layers else {}),
            **({"backward_flops": self.backward_flops} if self.backward_flops is not None else {}),
        }


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _conv(cin: int, cout: int, k: int, out_size: int) -> tuple[int, int]:
    """(params, MACs) of a bias-free conv."""
    p = cout * cin * k * k
    return p, p * out_size * out_size


def _block(spec: NetSpec, cin: int, planes: int, stride: int, size: int) -> tuple[int, int, int, int]:
    """(params, MACs, out_channels, out_size) of one block."""
    out_size = _out(size, 3, stride, 1)
    cout = planes * spec.expansion
    params = macs = 0
    if spec.block == "basic":
        convs = [(cin, planes, 3, out_size), (planes, planes, 3, out_size)]
    else:
        first_size = out_size if spec.stride_on == "1x1" else size
        convs = [(cin, planes, 1, first_size), (planes, planes, 3, out_size), (planes, cout, 1, out_size)]
    for cin_, cout_, k, s in convs:
        p, m = _conv(cin_, cout_, k, s)
        params += p + 2 * cout_  # conv weight + BN gamma/beta
        macs += m
    project = spec.shortcut == "C" or (spec.shortcut == "B" and (stride != 1 or cin != cout))
    if project:
        p, m = _conv(cin, cout, 1, out_size)
        params += p + 2 * cout
        macs += m
    return params, macs, cout, out_size


def analytic_complexity(spec: NetSpec) -> Complexity:
    size = spec.input_size
    w0 = spec.stem_width
    if spec.stem == "imagenet":
        conv_size = _out(size, 7, 2, 3)
        p, m = _conv(spec.in_channels, w0, 7, conv_size)
        size = _out(conv_size, 3, 2, 1)
    else:
        conv_size = size
        p, m = _conv(spec.in_channels, w0, 3, conv_size)
    rows = [StageCost("stem", 0, w0, conv_size, p + 2 * w0, m)]
    cin = w0
    for i, (blocks, planes) in enumerate(zip(spec.stages, spec.widths)):
        params = macs = 0
        for j in range(blocks):
            stride = 2 if (i > 0 and j == 0) else 1
            bp, bm, cin, size = _block(spec, cin, planes, stride, size)
            params += bp
            macs += bm
        rows.append(StageCost(f"layer{i + 1}", blocks, cin, size, params, macs))
    rows.append(StageCost("head", 0, spec.num_classes, 1, cin * spec.num_classes + spec.num_classes, cin * spec.num_classes))
    total_params = sum(r.params for r in rows)
    return Complexity(
        spec=spec.name,
        input_size=spec.input_size,
        params=total_params,
        trainable_params=total_params,
        macs=sum(r.macs for r in rows),
        stages=tuple(rows),
        counted_by="analytic",
    )
