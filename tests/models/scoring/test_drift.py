"""Population stability index: ~0 for the same distribution, large for a shifted one."""
import numpy as np
import pandas as pd
import pytest

from models.scoring.drift import assess_drift, classify_psi, population_stability_index, quantile_edges


def test_identical_samples_have_zero_psi():
    sample = np.random.default_rng(0).normal(size=5000)
    assert population_stability_index(sample, sample) == pytest.approx(0.0, abs=1e-12)


def test_resampled_same_distribution_is_stable():
    rng = np.random.default_rng(1)
    psi = population_stability_index(rng.normal(size=20000), rng.normal(size=20000))
    assert psi < 0.01
    assert classify_psi(psi) == "stable"


def test_shifted_sample_has_large_psi_and_grows_with_the_shift():
    rng = np.random.default_rng(2)
    reference = rng.normal(size=20000)
    small = population_stability_index(reference, rng.normal(0.2, 1, 20000))
    large = population_stability_index(reference, rng.normal(1.5, 1, 20000))
    assert 0.02 < small < 0.25
    assert large > 1.0
    assert classify_psi(large) == "severe"


def test_missing_values_get_their_own_bin():
    reference = np.arange(1000, dtype=float)
    current = reference.copy()
    current[:300] = np.nan
    assert population_stability_index(reference, current) > 0.25


def test_ties_collapse_bins_instead_of_failing():
    reference = np.array([0.0] * 900 + [1.0] * 100)
    edges = quantile_edges(reference)
    assert len(edges) == len(set(edges)) < 9
    assert population_stability_index(reference, np.array([0.0] * 500 + [1.0] * 500)) > 0.25


def test_assess_drift_flags_only_the_shifted_column_and_names_missing_ones():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"stable": rng.normal(size=5000), "moved": rng.normal(size=5000)})
    current = pd.DataFrame({"stable": rng.normal(size=5000), "moved": rng.normal(2, 1, 5000)})
    report = assess_drift(reference, current, ["stable", "moved"], threshold=0.25)
    assert report["column"].tolist() == ["moved", "stable"]
    assert report["drifted"].tolist() == [True, False]
    assert report.loc[0, "severity"] == "severe"
    with pytest.raises(ValueError, match="'absent' is missing from the reference"):
        assess_drift(reference, current, ["absent"])
