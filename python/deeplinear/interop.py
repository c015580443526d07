"""PyTorch interop: a deep linear network as a ``torch.nn.Sequential`` of bias-free layers.

``torch.nn.Linear`` maps a row vector x to x Wᵀ, i.e. the column vector x to W x, and a
``Sequential`` applies its first module first: layer Θ_i becomes the i-th ``Linear`` with weight
Θ_i, so the module computes Θ_L ⋯ Θ_1 x. torch is the optional "torch" extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._validation import as_layers

__all__ = ["from_torch", "to_torch"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch interop needs torch: pip install 'deeplinear[torch]'") from None
    return torch


def to_torch(layers: ArrayLike) -> Any:
    """A ``torch.nn.Sequential`` of bias-free ``Linear(d, d)`` layers computing Θ_L ⋯ Θ_1 x.

    The weights are copies of the layers in their dtype (float64 or float32).
    """
    torch = _torch()
    if isinstance(layers, torch.Tensor):  # (numpy() refuses a tensor that requires grad)
        layers = layers.detach().cpu().numpy()
    layers = as_layers(layers, "layers")
    modules = []
    for layer in layers:
        linear = torch.nn.Linear(
            layer.shape[1], layer.shape[0], bias=False, dtype=torch.from_numpy(layer).dtype
        )
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.copy()))
        modules.append(linear)
    return torch.nn.Sequential(*modules)


def from_torch(module: Any) -> np.ndarray:
    """The (L, d, d) layers of a ``Sequential`` (or an iterable) of bias-free square ``Linear``
    layers of one size; ``layers[i-1]`` is the weight of the i-th module."""
    torch = _torch()
    if isinstance(module, torch.nn.Linear):
        modules = [module]
    else:
        try:
            modules = list(module)
        except TypeError:
            raise TypeError(
                "module must be a torch.nn.Linear, a Sequential or an iterable of them, "
                f"got {type(module).__name__}"
            ) from None
    if not modules:
        raise ValueError("module must contain at least one Linear layer")
    weights = []
    for index, linear in enumerate(modules):
        if not isinstance(linear, torch.nn.Linear):
            raise TypeError(f"module[{index}] must be torch.nn.Linear, got {type(linear).__name__}")
        if linear.bias is not None:
            raise ValueError(f"module[{index}] has a bias; deep linear networks are bias-free")
        weight = linear.weight.detach().cpu()
        if weight.dtype not in (torch.float64, torch.float32):  # (bfloat16 has no numpy type)
            weight = weight.to(torch.float64)
        weight = weight.numpy()
        if weight.shape[0] != weight.shape[1] or weight.shape != modules[0].weight.shape:
            raise ValueError(
                f"module[{index}] must be square and of the first layer's size, "
                f"got {tuple(weight.shape)}"
            )
        weights.append(weight)
    # as every input: finite, float32 kept and narrower floats made float64
    return as_layers(np.stack(weights), "module")
