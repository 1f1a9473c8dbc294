"""`profile --backend onnxruntime`: the same network exported with torch.onnx and timed in
ONNX Runtime through the same timing loop and statistics as eager PyTorch.

Optional: needs the [onnx] extra (onnx, onnxruntime, onnxscript). Export happens once per
measurement (timed apart, like a compile); ORT gets as many intra-op threads as torch has,
so the comparison with eager is like for like. CPU uses ORT's CPU provider; CUDA its CUDA
provider when the installed onnxruntime has it. Inputs are fed from host memory, so on
CUDA each step includes the copies in and out (stated in the notes).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import warnings
from pathlib import Path

import torch

from resbench.errors import BenchmarkFailed, ConfigError, DeviceError
from resbench.measure.steps import StepTiming

BACKENDS = ("eager", "onnxruntime")


def _ort():
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("backend", 'onnxruntime needs the [onnx] extra: pip install -e ".[onnx]" '
                         "(onnx, onnxruntime, onnxscript)") from None
    return onnxruntime


def _failing_op(e: BaseException) -> str:
    """The line of an export error that names the operator, else its first line."""
    text = str(e)
    for line in text.splitlines():
        if "aten::" in line or "aten." in line or "operator" in line.lower() or "unsupported" in line.lower():
            return line.strip()[:300]
    return (text.strip().splitlines() or [type(e).__name__])[0][:300]


def export(model, x: torch.Tensor, path: Path, name: str) -> None:
    """torch.onnx.export, its progress prints kept off stdout (that is for results and --json)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), str(path), input_names=["input"], output_names=["output"])
    except Exception as e:  # an operator ONNX cannot express, an export bug, ...
        raise BenchmarkFailed(f"{name} does not export to ONNX: {_failing_op(e)}") from None


def session(path: Path, device: torch.device):
    ort = _ort()
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceError("this onnxruntime has no CUDA provider: pip install onnxruntime-gpu, or use `device='cpu'`")
        providers = [("CUDAExecutionProvider", {"device_id": device.index or 0})]
    elif device.type == "cpu":
        providers = ["CPUExecutionProvider"]
    else:
        raise DeviceError(f"`backend='onnxruntime'` runs on cpu or cuda, not {device.type}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.log_severity_level = 3  # errors only: ORT's warnings would land among our output
    return ort.InferenceSession(str(path), sess_options=opts, providers=providers)


def measure_onnx(spec, model, batch: int, device: torch.device, warmup: int, iters: int, min_time: float, timed_loop,
                 timer, progress):
    """Export, open a session, compare with eager, then time ``session.run`` like a step."""
    _ort()
    model = model.eval().cpu()
    x = torch.randn(batch, spec.in_channels, spec.input_size, spec.input_size)
    with torch.inference_mode():
        eager = model(x).float()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="resbench-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export(model, x, path, spec.name)
        sess = session(path, device)
        export_s = time.perf_counter() - t0
        feed = {"input": x.numpy()}
        out = torch.from_numpy(sess.run(None, feed)[0]).float()
        diff = float((out - eager).abs().max())

        def step(mark):
            sess.run(None, feed)
            mark()

        t_warm = time.perf_counter()
        for i in range(warmup):
            step(lambda: None)
            if progress:
                progress("warm-up", i + 1, warmup)
        warmup_s = time.perf_counter() - t_warm
        runs, wall = timed_loop(step, timer, torch.device("cpu"), iters, min_time, progress, "measure")
    samples = [timer.ms(m[0], m[-1]) for m in runs]
    return StepTiming(samples, wall, phases=None, compile_s=export_s, warmup_s=warmup_s, peak_cuda=None, kernel_ms=None,
                      max_abs_diff=diff)


def check_backend(cfg) -> None:
    if cfg.backend not in BACKENDS:
        raise ConfigError("backend", f"{cfg.backend!r} is unknown: expected eager or onnxruntime")
    if cfg.backend == "onnxruntime":
        bad = [flag for flag, on in (("`mode='train'`", cfg.mode != "infer"), ("`compile_mode`" if cfg.compile_mode else "`compile`", cfg.compile or cfg.compile_mode),
                                     ("`cuda_graphs`", cfg.cuda_graphs), ("`breakdown`", cfg.breakdown),
                                     (f"`dtype={cfg.dtype!r}`", cfg.dtype != "fp32")) if on]
        if bad:
            raise ConfigError("backend", f"onnxruntime times fp32 inference of the exported graph; drop {', '.join(bad)}")

