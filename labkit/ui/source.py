"""Shared input handling for the plots: any timeline, or an events frame, read as rows.

:mod:`labkit.ui.plots` and :mod:`labkit.ui.journey` call these so every plot
accepts what :mod:`labkit.metrics` accepts (a Timeline, a path, events) and
also a frame from :func:`labkit.metrics.events_frame`.
"""

from __future__ import annotations

import math
from typing import Any

from labkit import metrics
from labkit.events import Event

Source = metrics.TimelineSource | Any
"""A timeline (anything :mod:`labkit.metrics` reads) or a frame from ``metrics.events_frame``."""


def present(value: Any) -> bool:
    """Not None and not NaN: how a missing field looks once pandas has read it."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def flag(value: Any) -> bool:
    """A yes/no field of an event; absent (None, NaN) is no."""
    return present(value) and bool(value)


def as_source(source: Source) -> metrics.TimelineSource:
    """Turn an events frame back into events, so every ``labkit.metrics`` table accepts it too."""
    import pandas as pd

    if not isinstance(source, pd.DataFrame):
        return source
    events = []
    for row in source.to_dict("records"):
        data = {k: v for k, v in row.items() if k not in metrics.BASE_COLUMNS and present(v)}
        app, rev = row.get("app"), row.get("revision")
        events.append(
            Event(
                int(row["ts_ns"]),
                str(row["actor"]),
                str(row["kind"]),
                app if present(app) else None,
                rev if present(rev) else None,
                data,
            )
        )
    return events


def as_int(value: Any) -> str:
    """A count as text; pandas turns a column with gaps into floats, so 2.0 must print as 2."""
    return str(int(value)) if present(value) and float(value).is_integer() else "?"


def records(source: Source) -> list[dict[str, Any]]:
    """Every event as a dict (the columns of ``metrics.events_frame``), in time order."""
    return [dict(r) for r in metrics.events_frame(as_source(source)).to_dict("records")]


__all__ = ["Source", "as_int", "as_source", "flag", "present", "records"]
