"""dl.to_torch / dl.from_torch: the same map, exact round trips, and matching gradients."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_module_computes_the_product(dtype) -> None:
    rng = np.random.default_rng(0)
    layers = (np.eye(4) + 0.3 * rng.standard_normal((3, 4, 4))).astype(dtype)
    module = dl.to_torch(layers)
    assert len(module) == 3 and all(layer.bias is None for layer in module)
    x = rng.standard_normal((5, 4)).astype(dtype)
    out = module(torch.from_numpy(x)).detach().numpy()
    assert out.dtype == dtype
    expected = x.astype(np.float64) @ dl.product(layers.astype(np.float64)).T
    tolerance = (1e-5 if dtype == np.float32 else 1e-12) * np.abs(expected).max()
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance)
    np.testing.assert_array_equal(dl.from_torch(module), layers)


def test_autograd_gradient_matches_lemma1() -> None:
    rng = np.random.default_rng(1)
    layers = np.eye(3) + 0.3 * rng.standard_normal((4, 3, 3))
    phi = rng.standard_normal((3, 3))
    module = dl.to_torch(layers)
    product = torch.eye(3, dtype=torch.float64)
    for linear in module:
        product = linear.weight @ product
    loss = 0.5 * ((product - torch.from_numpy(phi)) ** 2).sum()
    loss.backward()
    grads = np.stack([linear.weight.grad.numpy() for linear in module])
    np.testing.assert_allclose(grads, dl.gradient(layers, phi), atol=1e-12)
    assert loss.item() == pytest.approx(dl.loss(layers, phi))


def test_from_torch_rejects_other_modules() -> None:
    with pytest.raises(ValueError, match="bias"):
        dl.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 3)))
    with pytest.raises(ValueError, match="square"):
        dl.from_torch(torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False)))
    with pytest.raises(TypeError, match="Linear"):
        dl.from_torch(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ValueError, match="at least one"):
        dl.from_torch(torch.nn.Sequential())


def test_from_torch_checks_weights_as_every_input_is_checked() -> None:
    def module(dtype, value=None):
        linear = torch.nn.Linear(2, 2, bias=False, dtype=dtype)
        if value is not None:
            with torch.no_grad():
                linear.weight.fill_(value)
        return torch.nn.Sequential(linear)

    with pytest.raises(ValueError, match="module must contain only finite values"):
        dl.from_torch(module(torch.float64, float("nan")))
    assert dl.from_torch(module(torch.float16)).dtype == np.float64  # narrower floats widened
    assert dl.from_torch(module(torch.bfloat16)).dtype == np.float64  # (no numpy bfloat16)
    assert dl.from_torch(module(torch.float32)).dtype == np.float32
    for bad in (5, None):
        with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Linear"):
            dl.from_torch(bad)


def test_to_torch_takes_a_tensor_that_requires_grad() -> None:
    layers = torch.eye(2, dtype=torch.float64, requires_grad=True)[None]
    model = dl.to_torch(layers)
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), np.eye(2))
