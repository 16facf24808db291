"""The figures: written as PNG, and readable at many classes (no cell text, small names)."""

import numpy as np

from kclass.report import plots

PNG = b"\x89PNG\r\n\x1a\n"


def _cm(c, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 5, (c, c)) + np.eye(c, dtype=int) * 20


def test_row_normalised_rows_sum_to_one_and_empty_rows_stay_zero():
    cm = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    norm = plots.row_normalised(cm)
    np.testing.assert_allclose(norm, [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0.25, 0.5]])


def test_small_confusion_matrix_prints_its_cells(tmp_path):
    cm = _cm(4)
    fig = plots.confusion_png(str(tmp_path / "cm.png"), cm, ["a", "b", "c", "d"])
    assert (tmp_path / "cm.png").read_bytes()[:8] == PNG
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == np.count_nonzero(cm)
    assert f"{cm[0, 0] / cm[0].sum():.2f}" in texts


def test_hundred_classes_get_no_cell_text_and_small_names(tmp_path):
    names = [f"a rather long class name {i}" for i in range(100)]
    fig = plots.confusion_png(str(tmp_path / "cm.png"), _cm(100), names)
    ax = fig.axes[0]
    assert not ax.texts
    ticks = ax.get_yticklabels()
    assert len(ticks) == 100 and all(t.get_fontsize() <= 6 for t in ticks)
    assert all(len(t.get_text()) <= plots.NAME_CHARS for t in ticks)
    assert fig.get_size_inches()[1] * 100 / 100 >= 15  # >= 15 px (at 100 dpi) per class row


def test_reliability_and_pr_curves_are_pngs(tmp_path):
    from kclass.report import calibration
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1, 200)
    bins = calibration.reliability_bins(confidence, rng.random(200) < confidence)
    plots.reliability_png(str(tmp_path / "r.png"), bins, 0.1)
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG
    curves = [(np.array([1.0, 0.5]), np.array([0.5, 1.0])), None] + [(np.array([0.5]), np.array([1.0]))] * 12
    fig = plots.pr_curves_png(str(tmp_path / "pr.png"), curves, [0.75, np.nan] + [0.5] * 12,
                              [f"c{i}" for i in range(14)], micro=(np.array([1.0, 0.6]), np.array([0.4, 1.0])))
    assert (tmp_path / "pr.png").read_bytes()[:8] == PNG
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # 13 classes with a positive: the best and worst 3 named, plus the pooled curve.
    assert len(legend) == 7 and legend[0] == "c0 AP 0.750" and "c1 AP" not in " ".join(legend)
