"""Bad input raises ValueError/TypeError naming the argument; it never crashes or returns NaN."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl

LAYERS = np.stack([np.eye(3)] * 2)
PHI = 2.0 * np.eye(3)


def with_value(array: np.ndarray, value: float) -> np.ndarray:
    array = array.copy()
    array.flat[1] = value
    return array


CORE_CASES = [
    (lambda: dl.product(np.eye(3)), ValueError, "layers"),
    (lambda: dl.product(np.zeros((2, 3, 4))), ValueError, "layers"),
    (lambda: dl.product(np.zeros((0, 3, 3))), ValueError, "layers"),
    (lambda: dl.product(with_value(LAYERS, np.nan)), ValueError, "layers"),
    (lambda: dl.product(with_value(LAYERS, np.inf)), ValueError, "layers"),
    (lambda: dl.product(LAYERS.astype(complex)), TypeError, "layers"),
    (lambda: dl.product(np.array([["a"]])), TypeError, "layers"),
    (lambda: dl.product("abc"), TypeError, "layers"),
    (lambda: dl.loss(LAYERS, np.eye(4)), ValueError, "phi"),
    (lambda: dl.loss(LAYERS, np.ones((3, 4))), ValueError, "phi"),
    (lambda: dl.loss(LAYERS, with_value(PHI, np.nan)), ValueError, "phi"),
    (lambda: dl.gradient(LAYERS, with_value(PHI, -np.inf)), ValueError, "phi"),
    (lambda: dl.gradient(LAYERS[:, :2], PHI), ValueError, "layers"),
    (lambda: dl.hvp(LAYERS, PHI, LAYERS[:1]), ValueError, "direction"),
    (lambda: dl.hvp(LAYERS, PHI, with_value(LAYERS, np.nan)), ValueError, "direction"),
    (lambda: dl.hessian(LAYERS, np.eye(2)), ValueError, "phi"),
    (lambda: dl.positivity_margin(np.ones((2, 3))), ValueError, "a"),
    (lambda: dl.project_positive(PHI, 0.0), ValueError, "gamma"),
    (lambda: dl.project_positive(PHI, -1.0), ValueError, "gamma"),
    (lambda: dl.project_positive(PHI, np.nan), ValueError, "gamma"),
    (lambda: dl.project_positive(PHI, "1"), TypeError, "gamma"),
    (lambda: dl.project_identity_ball(PHI, 0.0), ValueError, "psi"),
    (lambda: dl.project_identity_ball(with_value(PHI, np.nan), 1.0), ValueError, "a"),
    (lambda: dl.polar(np.ones(3)), ValueError, "a"),
    (lambda: dl.balanced_factorization(PHI, 0), ValueError, "depth"),
    (lambda: dl.balanced_factorization(PHI, 2.5), TypeError, "depth"),
    (lambda: dl.balanced_factorization(PHI, True), TypeError, "depth"),
    (lambda: dl.balanced_factorization(np.zeros((3, 3)), 2), ValueError, "singular"),
    (lambda: dl.balanced_factorization(np.diag([-1.0, 1.0, 1.0]), 2), ValueError, "root"),
]

TRAIN_CASES = [
    ({"depth": 0}, ValueError, "depth"),
    ({"depth": 2.0}, TypeError, "depth"),
    ({"depth": True}, TypeError, "depth"),
    ({"lr": 0.0}, ValueError, "lr"),
    ({"lr": -0.1}, ValueError, "lr"),
    ({"lr": np.nan}, ValueError, "lr"),
    ({"lr": np.inf}, ValueError, "lr"),
    ({"lr": "0.1"}, TypeError, "lr"),
    ({"tol": -1.0}, ValueError, "tol"),
    ({"max_steps": -1}, ValueError, "max_steps"),
    ({"max_steps": 1.5}, TypeError, "max_steps"),
    ({"record_every": 0}, ValueError, "record_every"),
    ({"method": "adam"}, ValueError, "method"),
    ({"init": np.zeros((3, 3, 3))}, ValueError, "init"),
    ({"init": with_value(LAYERS, np.nan)}, ValueError, "init"),
    ({"init": np.nan}, ValueError, "init"),
    ({"callback": 3}, TypeError, "callback"),
    ({"threads": 0}, ValueError, "threads"),
    ({"psi": 1.0}, ValueError, "psi"),
    ({"method": "power_projection"}, ValueError, "gamma"),
    ({"method": "power_projection", "gamma": 0.0}, ValueError, "gamma"),
    ({"method": "power_projection", "gamma": -1.0}, ValueError, "gamma"),
    ({"method": "step_and_project"}, ValueError, "psi"),
    ({"method": "step_and_project", "psi": -1.0}, ValueError, "psi"),
    ({"method": "step_and_project", "psi": 1.0, "gamma": -1.0}, ValueError, "gamma"),
    ({"method": "penalty"}, ValueError, "kappa"),
    ({"method": "penalty", "kappa": -1.0}, ValueError, "kappa"),
    ({"method": "penalty", "kappa": 1.0, "gamma": 0.5}, ValueError, "gamma"),
    ({"phi": np.ones((3, 4))}, ValueError, "phi"),
    ({"phi": with_value(PHI, np.inf)}, ValueError, "phi"),
    ({"phi": PHI.astype(complex)}, TypeError, "phi"),
]


@pytest.mark.parametrize(("call", "error", "match"), CORE_CASES)
def test_core_functions_reject_bad_input(call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(("change", "error", "match"), TRAIN_CASES)
def test_train_and_trainer_reject_bad_input(change: dict, error, match: str) -> None:
    arguments = {"phi": PHI, "depth": 2, "method": "gd", "lr": 0.1, "max_steps": 5}
    arguments.update(change)
    with pytest.raises(error, match=match):
        dl.train(**arguments)
    run_arguments = {"max_steps": arguments.pop("max_steps"), "tol": arguments.pop("tol", 0.0)}
    with pytest.raises(error, match=match):
        dl.Trainer(**arguments).run(**run_arguments)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"phi": np.array([[1.0, 2.0], [0.0, 1.0]])}, ValueError, "symmetric"),
        ({"depth": 0}, ValueError, "depth"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"max_steps": -1}, ValueError, "max_steps"),
        ({"record_every": 0}, ValueError, "record_every"),
        ({"phi": np.full((2, 2), np.nan)}, ValueError, "phi"),
    ],
)
def test_spectral_gd_rejects_bad_input(change: dict, error, match: str) -> None:
    arguments = {"phi": np.eye(2), "depth": 2, "lr": 0.1, "max_steps": 5}
    arguments.update(change)
    with pytest.raises(error, match=match):
        dl.spectral_gd(**arguments)


def test_trainer_rejects_nan_written_into_live_layers() -> None:
    trainer = dl.Trainer(PHI, 2, lr=0.1)
    trainer.layers[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="layers"):
        trainer.step()


def test_compiled_core_refuses_silent_copies() -> None:
    # The private module takes exactly C-contiguous float arrays: conversion happens once, above it.
    from deeplinear import _core

    with pytest.raises(TypeError):
        _core.product(np.stack([np.eye(3), 2 * np.eye(3)])[:, ::-1])
    with pytest.raises(TypeError):
        _core.product(LAYERS.astype(np.int64))
