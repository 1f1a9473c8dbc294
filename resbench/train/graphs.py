"""A training step without launch overhead: forward + backward + SGD step captured as one
CUDA graph (`--cuda-graphs`), following PyTorch's whole-network capture recipe.

Small nets such as ResNet-20 are launch-bound on a big GPU: each step is hundreds of
small kernels, and the host cannot launch them as fast as the GPU runs them. Replaying a
captured graph launches them all at once. What the capture needs:

* static inputs: each batch (already augmented on the device by DeviceLoader) is copied
  into one fixed buffer; a smaller last batch runs eagerly with the same optimizer;
* an optimizer whose learning rate is a device tensor, since a Python float would be
  frozen into the graph: ``GraphSGD`` is SGD with momentum and weight decay in foreach
  ops, equal to ``torch.optim.SGD`` step for step (tested on CPU);
* warm-up on a side stream before capture: the first steps are real training steps,
  run eagerly, so a graphed run trains exactly the steps an eager run does.
"""

from __future__ import annotations

import torch

from resbench.errors import ConfigError
from resbench.runtime import autocast

WARMUP_STEPS = 3  # eager steps on a side stream before capture (cuDNN autotuning, allocator, momentum buffers)


class GraphSGD:
    """SGD (momentum, weight decay, no dampening or Nesterov) with a tensor learning rate:
    buf = momentum * buf + (grad + wd * p); p -= lr * buf. torch.optim.SGD's first step
    sets buf = grad + wd * p, which is the same as starting from zeros."""

    def __init__(self, params, momentum: float, weight_decay: float, device: torch.device) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.momentum, self.weight_decay = momentum, weight_decay
        self.bufs = [torch.zeros_like(p) for p in self.params]
        self.lr = torch.zeros((), device=device)

    def zero_grad(self, set_to_none: bool = False) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        torch._foreach_mul_(self.bufs, self.momentum)
        torch._foreach_add_(self.bufs, grads)
        torch._foreach_sub_(self.params, torch._foreach_mul(self.bufs, self.lr))


class GraphedStep:
    """``step(x, y, lr) -> (loss, wrong)``: eager for the warm-up and for odd-sized batches,
    a replayed CUDA graph for the rest. ``loss`` and ``wrong`` are device tensors."""

    def __init__(self, net, params, cfg, device: torch.device) -> None:
        if device.type != "cuda":
            raise ConfigError("cuda_graphs", "captures CUDA work; it needs `device='cuda'` (or drop it)")
        if cfg.compile or cfg.dtype == "fp16":
            raise ConfigError("cuda_graphs", "captures the eager step in fp32 or bf16; drop `compile`, use `dtype` fp32 or bf16")
        self.net, self.cfg, self.device = net, cfg, device
        self.opt = GraphSGD(params, cfg.momentum, cfg.weight_decay, device)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.graph = None
        self.steps = 0
        self.stream = torch.cuda.Stream(device)

    def _forward_backward(self, x, y):
        with autocast(self.device, self.cfg.dtype, cache_enabled=False):
            out = self.net(x)
            loss = self.loss_fn(out, y)
        loss.backward()
        self.opt.step()
        return loss.detach(), (out.detach().argmax(1) != y).sum()

    def _eager(self, x, y):
        self.opt.zero_grad(set_to_none=self.graph is None)
        return self._forward_backward(x, y)

    def _capture(self, x, y) -> None:
        self.static_x, self.static_y = x.clone(), y.clone()
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_loss, self.static_wrong = self._forward_backward(self.static_x, self.static_y)

    def __call__(self, x, y, lr: float):
        self.opt.lr.fill_(lr)
        self.steps += 1
        if self.graph is None and self.steps <= WARMUP_STEPS:
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self.stream):
                result = self._eager(x, y)
            torch.cuda.current_stream(self.device).wait_stream(self.stream)
            return result
        if self.graph is None:
            self._capture(x, y)  # records, runs nothing: the replay below is this step
        if x.shape != self.static_x.shape:
            return self._eager(x, y)  # the smaller last batch of an epoch
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        return self.static_loss.clone(), self.static_wrong.clone()
