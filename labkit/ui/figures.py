"""Figures that need no pyplot: safe in tests, in worker threads and in Jupyter alike.

Every plot in :mod:`labkit.ui.plots` and :mod:`labkit.ui.summary` draws on a
:class:`LabFigure`, and the dashboard (:mod:`labkit.ui.panel`) turns one into
PNG bytes with :func:`png_bytes`. Why not ``pyplot``: pyplot keeps a global
list of open figures (they leak unless closed) and is not thread-safe, while
the dashboard renders its live plot from a background thread. A bare
``Figure`` has neither problem, but Jupyter only knows how to show it when
pyplot's inline backend is loaded, so :class:`LabFigure` shows itself with
``_repr_png_``.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.errors import LabkitError


class PlotError(LabkitError):
    """A plot cannot be drawn from what was asked (an ambiguous revision, malformed samples)."""


class LabFigure(Figure):
    """A matplotlib Figure that Jupyter displays as a PNG even without pyplot."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def new_figure(width: float = 9.0, height: float = 4.0) -> tuple[LabFigure, Axes]:
    """A figure with one Axes, sized in inches, with a layout that keeps labels inside."""
    fig = LabFigure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def png_bytes(fig: Figure, dpi: int = 96) -> bytes:
    """Render ``fig`` to PNG (Agg, whatever backend is active)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def no_data(ax: Axes, message: str) -> None:
    """Say in the plot itself why it is empty, so an empty figure is never a mystery."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4", wrap=True)


__all__ = ["LabFigure", "PlotError", "new_figure", "no_data", "png_bytes"]
