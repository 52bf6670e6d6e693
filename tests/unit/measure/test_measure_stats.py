import math

from prewire.measure.stats import median, percentile, ratio, summary


def test_percentile_nearest_rank() -> None:
    data = [float(v) for v in range(1, 101)]
    assert percentile(data, 50) == 50.0
    assert percentile(data, 99) == 99.0
    assert percentile(data, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_empty_sample_is_nan_not_an_error() -> None:
    assert math.isnan(percentile([], 50))
    assert summary([])["count"] == 0
    assert math.isnan(median([]))


def test_summary_and_ratio() -> None:
    s = summary([1.0, 2.0, 3.0, 4.0])
    assert s["count"] == 4 and s["max"] == 4.0 and s["p50"] == 2.0
    assert ratio(2.0, 10.0) == 5.0
    assert math.isnan(ratio(0.0, 10.0))
