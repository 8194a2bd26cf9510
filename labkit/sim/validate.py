"""Predicted against measured: is the model good enough to believe at scales the laptop cannot run?

The scale experiment (:func:`labkit.scale.validate`) measures a run on the
lab, predicts the same run with :func:`labkit.sim.model.predict_commit`
(fitted from a smaller run), and calls :func:`validation_rows`, which puts
p50 and p95 side by side and says whether each lies within the tolerance
(20 % by default, issue 13); the latencies may also come from the timeline
(:func:`measured_latencies`). :func:`validate` is the same table as a
DataFrame; pandas is imported inside :func:`validate` and
:func:`measured_latencies` only, so ``import labkit`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from labkit.sim.fit import TimelineSource
from labkit.sim.model import Prediction, quantile

if TYPE_CHECKING:
    import pandas as pd

TOLERANCE = 0.20
"""Largest relative error of a predicted quantile that still counts as validated."""
QUANTILES = {"p50": 0.5, "p95": 0.95}
SERIES = {"synced_s": "commit -> Synced", "healthy_s": "commit -> Healthy", "healed_s": "drift -> healed"}


def measured_latencies(
    timeline: TimelineSource, series: str = "synced_s", revision: str | None = None
) -> list[float]:
    """One measured latency per app, in seconds, from the timeline (``labkit.metrics``).

    ``synced_s`` and ``healthy_s`` are counted from each push (only the push of
    ``revision`` when given); ``healed_s`` from each drift injection.
    """
    from labkit import metrics

    if series not in SERIES:
        raise ValueError(f"unknown series {series!r}: use one of {', '.join(SERIES)}")
    if series == "healed_s":
        frame = metrics.drift_latencies(timeline)
    else:
        frame = metrics.commit_latencies(timeline)
        if revision is not None:
            frame = frame[frame["revision"] == revision]
    if series not in frame:
        return []
    return [float(v) for v in frame[series].dropna()]


def validation_rows(
    prediction: Prediction, measured: Sequence[float], series: str = "synced_s", tolerance: float = TOLERANCE
) -> list[dict[str, Any]]:
    """p50 and p95, predicted and measured, the relative error and whether it is within ``tolerance``."""
    if series not in prediction.latencies:
        raise ValueError(f"the prediction has no {series!r}; it has {', '.join(prediction.latencies)}")
    if not measured:
        raise ValueError(
            f"no measured {series} to validate against: run the same experiment on the lab first"
        )
    rows = []
    for name, q in QUANTILES.items():
        predicted, actual = prediction.quantile(series, q), quantile(measured, q)
        error = (predicted - actual) / actual if actual > 0 else math.inf
        rows.append(
            {
                "what": SERIES.get(series, series),
                "config": prediction.config.name,
                "apps": prediction.config.apps,
                "quantile": name,
                "predicted_s": round(predicted, 3),
                "measured_s": round(actual, 3),
                "error": round(error, 3),
                "within": abs(error) <= tolerance,
                "n_predicted": len(prediction.latencies[series]),
                "n_measured": len(measured),
            }
        )
    return rows


def validate(
    prediction: Prediction, measured: Sequence[float], series: str = "synced_s", tolerance: float = TOLERANCE
) -> pd.DataFrame:
    """:func:`validation_rows` as a DataFrame, one row per quantile."""
    import pandas as pd

    return pd.DataFrame(validation_rows(prediction, measured, series, tolerance))
