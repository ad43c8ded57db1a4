"""Chart helpers return PNG images of the data they are given."""
from __future__ import annotations

import pandas as pd

from models.charts import plot_series


def test_plot_series_draws_one_line_per_column_and_follows_the_data():
    frame = pd.DataFrame({"plan": [1.0, 2.0, 3.0], "best single": [2.0, 2.0, 2.0]},
                         index=["2026-11-01", "2026-11-08", "2026-11-15"])
    png = plot_series(frame, "night", "value")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_series(frame, "night", "value") == png                       # deterministic
    assert plot_series(frame.assign(plan=[3.0, 1.0, -2.0]), "night", "value") != png
