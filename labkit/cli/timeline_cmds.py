"""`labkit timeline`: print the lab's timeline, the record every actor appends to.

Registered on the root group by ``labkit.cli``. Reads
``Settings().state_dir/timeline.jsonl`` through :class:`labkit.events.Timeline`;
``--json`` prints the stored lines unchanged, for ``jq`` or a notebook.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import click

from labkit.cli.base import friendly_errors, main
from labkit.events import Event, Timeline
from labkit.settings import Settings

_MAX_VALUE = 60
_SHA = re.compile(r"[0-9a-f]{40}")


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if _SHA.fullmatch(text):
        return text[:7]
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def format_event(event: Event) -> str:
    """One aligned line: local time, actor, kind, app, short revision, then data as key=value."""
    when = datetime.fromtimestamp(event.ts_ns / 1e9).strftime("%H:%M:%S.%f")[:-3]
    revision = (event.revision or "")[:7]
    data = " ".join(f"{k}={_value(v)}" for k, v in sorted(event.data.items()))
    line = f"{when}  {event.actor:<10}  {event.kind:<18}  {event.app or '-':<12}  {revision:<7}  {data}"
    return line.rstrip()


def select(events: list[Event], app: str | None, last: int | None) -> list[Event]:
    """Events in time order; with ``app`` that app's plus those of no app (pushes, webhooks)."""
    chosen = sorted((e for e in events if app is None or e.app in (app, None)), key=lambda e: e.ts_ns)
    return chosen[-last:] if last else chosen


@main.command("timeline", help="Show what happened in the lab: pushes, syncs, drift, heals.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored JSON lines.")
@click.option("--app", default=None, help="Only this app's events (and pushes, which belong to no app).")
@click.option("--last", type=click.IntRange(min=1), default=None, help="Only the last N events.")
@friendly_errors
def timeline(as_json: bool, app: str | None, last: int | None) -> None:
    path = Settings().state_dir / "timeline.jsonl"
    events = select(list(Timeline(path)), app, last)
    if not events:
        click.echo(f"no events yet in {path}; push a commit or run `labkit up`", err=True)
    for event in events:
        click.echo(event.to_json() if as_json else format_event(event))
