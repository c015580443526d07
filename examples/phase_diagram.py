"""Phase diagrams with dl.sweep: where does identity initialization work?

1. Final loss of gradient descent from I over depth × negative eigenvalue λ, twice:
   (a) Φ = diag(−λ, 1, 1, 1), given in its eigenbasis: float64 keeps the layers diagonal there,
       so the run follows the exact dynamics of Theorems 4–5 (the loss never drops below λ²/2);
   (b) the same spectrum in a random orthogonal basis (dl.targets.negative_eigenvalue): what a
       float64 user sees — rounding breaks the symmetry the theorems rest on, and gradient
       descent can leave the plateau (the table shows where it did).
2. Power projection against plain GD over the rotation angle of Φ (Theorem 3).

Run:  python examples/phase_diagram.py [--scheduler tcp://host:8786] [--store DIR]
"""

from __future__ import annotations

import argparse

import numpy as np

import deeplinear as dl

LAMS = (0.25, 0.5, 1.0, 2.0)
DEPTHS = (1, 2, 3, 4, 8)


def negative_eigenvalue_grid(executor, store, rotated):
    """Final loss of GD from I for each depth and λ; ``rotated``: Φ in a random basis."""
    if rotated:
        phis = [dl.targets.negative_eigenvalue(4, lam, seed=0) for lam in LAMS]
        title = "(b) float64, Φ in a random basis (dl.targets.negative_eigenvalue, seed 0)"
    else:
        phis = [np.diag([-lam, 1.0, 1.0, 1.0]) for lam in LAMS]
        title = "(a) exact dynamics: Φ = diag(−λ, 1, 1, 1), in its eigenbasis"
    configs = dl.grid(phi=phis, depth=list(DEPTHS), lr=0.02, max_steps=5000, record_every=5000)
    table = dl.sweep(configs, executor=executor, store=store, progress=False)
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    print(f"{title}; final loss of GD from I after 5000 steps, the floor λ²/2 in brackets")
    print("depth " + "".join(f"{'λ=' + str(lam):>18}" for lam in LAMS))
    for depth in DEPTHS:
        cells = []
        for config, row in zip(configs, rows):
            if config["depth"] == depth:
                lam = -np.linalg.eigvalsh(config["phi"])[0]
                cells.append(f"{row['final_loss']:>9.4f} [{lam**2 / 2:.3f}]")
        print(f"{depth:>5} " + "".join(f"{cell:>18}" for cell in cells))
    print()


def rotation_grid(executor, store):
    angles = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    configs = []
    for angle in angles:
        phi = 1.5 * dl.targets.rotation(4, angle, seed=0)
        gamma = 0.5 * dl.positivity_margin(phi)
        base = {"phi": phi, "depth": 4, "lr": 0.02, "max_steps": 3000, "tol": 1e-12}
        configs += [
            {**base, "method": "gd"},
            {**base, "method": "power_projection", "gamma": gamma},
        ]
    table = dl.sweep(configs, executor=executor, store=store, progress=False)
    rows = table.to_dict("records") if hasattr(table, "to_dict") else table
    print("Φ = 1.5 × rotation by an angle; steps to ℓ ≤ 1e-12 (3000 = not reached)")
    print(f"{'angle':>6} {'GD from I':>12} {'power projection':>18}")
    for index, angle in enumerate(angles):
        gd, power = rows[2 * index], rows[2 * index + 1]
        print(f"{angle:>6.2f} {gd['steps']:>12} {power['steps']:>18}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="a Dask scheduler address")
    parser.add_argument("--store", help="a folder for finished runs")
    args = parser.parse_args()
    executor = None
    if args.scheduler:
        from distributed import Client

        executor = Client(args.scheduler)
    negative_eigenvalue_grid(executor, args.store, rotated=False)
    negative_eigenvalue_grid(executor, args.store, rotated=True)
    rotation_grid(executor, args.store)


if __name__ == "__main__":
    main()
