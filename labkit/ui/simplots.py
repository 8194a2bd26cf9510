"""Plots of the what-if model: predicted against measured, and what-ifs side by side.

For the scale notebook (issue 13): these draw predictions from
:mod:`labkit.sim.model` and latencies measured on the lab
(:func:`labkit.sim.validate.measured_latencies`). Like :mod:`labkit.ui.plots`,
each returns a :class:`labkit.ui.figures.LabFigure` and never touches
pyplot's global state; matplotlib is imported here only.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes

from labkit.sim.model import Prediction, quantile
from labkit.sim.validate import SERIES
from labkit.ui.figures import LabFigure, new_figure, no_data


def _ecdf(ax: Axes, values: Sequence[float], label: str, **style: object) -> bool:
    """Draw one ECDF as a step line; False (and a legend entry saying so) when there are no values."""
    ordered = sorted(values)
    if not ordered:
        ax.plot([], [], label=f"{label} (no runs)")
        return False
    n = len(ordered)
    xs = [ordered[0], *ordered]
    ys = [0.0, *((i + 1) / n for i in range(n))]
    stats = f"n={n}, p50 {quantile(ordered, 0.5):.1f} s, p95 {quantile(ordered, 0.95):.1f} s"
    ax.step(xs, ys, where="post", label=f"{label} ({stats})", **style)  # type: ignore[arg-type]
    return True


def _finish(ax: Axes, title: str, xlabel: str, drawn: bool) -> None:
    if not drawn:
        no_data(ax, "nothing predicted or measured yet")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of apps done (ECDF)")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)


def predicted_vs_measured(
    prediction: Prediction, measured: Sequence[float], series: str = "synced_s", title: str = ""
) -> LabFigure:
    """The model's ECDF over the lab's, with the measured p50 and p95 marked and a +/-20 % band."""
    what = SERIES.get(series, series)
    fig, ax = new_figure(8, 4)
    drawn = _ecdf(ax, prediction.latencies.get(series, ()), f"predicted ({prediction.config.name})", lw=2)
    drawn = _ecdf(ax, measured, "measured on the lab", marker="o", ms=3, color="black") or drawn
    for q, name in ((0.5, "p50"), (0.95, "p95")):
        if measured:
            x = quantile(measured, q)
            ax.axvspan(0.8 * x, 1.2 * x, ymin=0, ymax=q / 1.05, color="tab:green", alpha=0.08)
            ax.axvline(x, ymax=q / 1.05, color="0.4", ls=":", lw=1)
            ax.annotate(f"measured {name} ±20 %", (x, q), fontsize=7, color="0.3", ha="left")
    apps = prediction.config.apps
    _finish(
        ax, title or f"Model vs lab: {what}, {apps} apps", f"seconds after the {series_anchor(series)}", drawn
    )
    return fig


def whatif_ecdf(predictions: Sequence[Prediction], series: str = "synced_s", title: str = "") -> LabFigure:
    """One predicted ECDF per what-if (a preset, a number of apps, a poll interval...)."""
    fig, ax = new_figure(8, 4)
    drawn = False
    for p in predictions:
        drawn = (
            _ecdf(ax, p.latencies.get(series, ()), f"{p.config.name}, {p.config.apps} apps", lw=2) or drawn
        )
    what = SERIES.get(series, series)
    _finish(ax, title or f"What if: {what}, predicted", f"seconds after the {series_anchor(series)}", drawn)
    return fig


def series_anchor(series: str) -> str:
    """What a series counts from: the commit, or the drift."""
    return "drift" if series == "healed_s" else "commit"
