"""The two axes on which relief is judged (trainer.translator_eval): accuracy (angle, slope
correlation) and realism (distance between slope-magnitude distributions), and the ship rule."""
from __future__ import annotations

import numpy as np
import pytest

from trainer.translator_eval import ship_decision, slope_correlation, slope_realism, slopes


def _normals(slope_xy: np.ndarray) -> np.ndarray:
    n = np.concatenate([-slope_xy, np.ones_like(slope_xy[..., :1])], axis=-1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def relief():
    rng = np.random.default_rng(0)
    return rng.normal(0.0, 0.3, size=(64, 64, 2))


def test_slopes_are_read_back_from_normals(relief):
    assert np.allclose(slopes(_normals(relief)), relief, atol=1e-5)


def test_the_truth_scores_best_and_a_flat_map_scores_no_relief(relief):
    true = _normals(relief)
    flat = _normals(np.zeros_like(relief))
    assert slope_correlation(true, true) == pytest.approx(1.0)
    assert slope_realism(true, true) == pytest.approx(0.0, abs=1e-6)
    assert slope_correlation(flat, true) == 0.0
    assert slope_realism(flat, true) == pytest.approx(1.0)


def test_correlation_ignores_strength_and_realism_measures_it(relief):
    true = _normals(relief)
    assert slope_correlation(_normals(0.5 * relief), true) == pytest.approx(1.0)
    assert slope_correlation(_normals(-relief), true) == pytest.approx(-1.0)
    assert slope_realism(_normals(0.5 * relief), true) == pytest.approx(1 / 3, abs=0.01)
    assert slope_realism(_normals(2.0 * relief), true) == pytest.approx(1 / 3, abs=0.01)
    assert slope_realism(_normals(50.0 * relief), true) > 0.9  # far too strong is as unreal as flat


def test_relief_of_the_right_kind_in_the_wrong_place_is_real_but_not_accurate(relief):
    true = _normals(relief)
    shuffled = _normals(np.random.default_rng(1).permutation(relief.reshape(-1, 2)).reshape(relief.shape))
    assert abs(slope_correlation(shuffled, true)) < 0.05
    assert slope_realism(shuffled, true) < 0.02


def _row(deg, deg_flat, corr, corr_classical, realism, realism_classical):
    return {"normal_deg": deg, "normal_deg_flat": deg_flat, "slope_corr": corr, "slope_corr_classical": corr_classical,
            "realism": realism, "realism_classical": realism_classical}


def test_the_ship_rule_needs_two_folds_of_three_and_the_mean():
    good, timid = _row(8.0, 8.5, 0.3, 0.1, 0.4, 0.9), _row(8.4, 8.5, 0.3, 0.1, 0.95, 0.9)
    assert ship_decision([good, good, timid], good)[0]
    ships, lines = ship_decision([good, timid, timid], good)
    assert not ships and lines[2].startswith("FAIL")
    assert not ship_decision([good, good, good], timid)[0]
    worse_than_flat = _row(9.0, 8.5, 0.3, 0.1, 0.4, 0.9)
    assert not ship_decision([worse_than_flat] * 3, worse_than_flat)[0]
