"""A 100-app run on the lab lies within the what-if model's prediction band (issue 13).

On a scratch lab of its own (the session's lab keeps its few apps): 50 apps
x 5 resources are measured first and the model (labkit.sim) is fitted from
that run alone; then it predicts one commit touching 100 more apps, and the
run is made and measured (labkit.scale.validate).

The band is a factor of :data:`BAND` either side of the predicted p50 and
p95. The lab's CPU is shared (with a notebook, a browser, other labs), and
the calibration and the run can get different shares of it: up to 2x apart
on the 2 busy cores this was written on. The model's structural errors fall
far outside the band (a GIL counted twice: 4x too slow at 100 apps; the
agent exporting the whole repository per app: 10x). The README's validation
table holds the 20 % comparison.
"""

from __future__ import annotations

import pytest

from labkit import scale
from labkit.lab import Lab
from tests.integration.conftest import Scratch

pytestmark = pytest.mark.cluster
BAND = 2.0


@pytest.mark.timeout(240)
def test_a_100_app_run_lies_within_the_models_prediction_band(scratch: Scratch) -> None:
    lab = Lab.up(scratch.settings, progress=lambda m: None)
    found = scale.validate(lab, 100)
    assert len(found.measured.synced_s) == 100
    assert found.prediction.unfinished == 0
    rows = {r["quantile"]: r for r in found.rows()}
    assert set(rows) == {"p50", "p95"}
    for q, row in rows.items():
        low, high = row["predicted_s"] / BAND, row["predicted_s"] * BAND
        measured = row["measured_s"]
        assert low <= measured <= high, f"{q}: measured {measured} s, band {low:.1f}-{high:.1f} s"
