"""PSI: zero on the training distribution, large on a shifted one, and the incremental
window equals PSI computed from scratch on its values."""

from __future__ import annotations

import random

import numpy as np

from pyrt.services.signals.model.drift import DriftWindow, make_reference, psi


def test_psi_reads_stable_and_shifted_distributions() -> None:
    rng = np.random.default_rng(1)
    ref = make_reference(rng.normal(0, 1, 5000))
    assert len(ref.edges) == 9 and abs(sum(ref.fractions) - 1) < 1e-12
    assert psi(ref, rng.normal(0, 1, 5000).tolist()) < 0.02
    assert psi(ref, rng.normal(2, 1, 5000).tolist()) > 1.0


def test_the_window_equals_psi_from_scratch_on_its_last_values() -> None:
    rng = random.Random(3)
    ref = make_reference(np.random.default_rng(2).normal(0, 1, 2000))
    window = DriftWindow({"x": ref}, ["x", "absent"], size=100, min_samples=50)
    values: list[float] = []
    for i in range(400):
        v = rng.gauss(0.0 if i < 200 else 1.5, 1.0)
        values.append(v)
        window.add({"x": v})
        scores = window.scores()
        if len(values) < 50:
            assert scores == {}
        else:
            assert abs(scores["x"] - psi(ref, values[-100:])) < 1e-12
    assert window.scores()["x"] > 0.25
