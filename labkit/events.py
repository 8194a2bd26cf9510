"""The timeline: one append-only JSONL file per lab that every actor writes to.

The git hook, the controller, the push pipeline and the drift injector each
append events here; latency tables (``labkit.metrics``) and plots are
computed from this file and from nothing else. Each line is one JSON object
with at least ``ts_ns`` (wall clock, nanoseconds), ``actor`` and ``kind``;
``app`` and ``revision`` join the events of one commit.

Appends use ``O_APPEND`` with one ``write`` per line, so several processes
can write to the same file without interleaving lines.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Clock = Callable[[], int]
"""A function returning the wall-clock time in nanoseconds (``time.time_ns``)."""


@dataclass(frozen=True)
class Event:
    """One thing that happened, as read back from the timeline."""

    ts_ns: int
    actor: str
    kind: str
    app: str | None = None
    revision: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        record: dict[str, Any] = {"ts_ns": self.ts_ns, "actor": self.actor, "kind": self.kind}
        if self.app is not None:
            record["app"] = self.app
        if self.revision is not None:
            record["revision"] = self.revision
        record.update(self.data)
        return json.dumps(record, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> Event:
        record = json.loads(line)
        ts_ns = int(record.pop("ts_ns"))
        actor = str(record.pop("actor"))
        kind = str(record.pop("kind"))
        app = record.pop("app", None)
        revision = record.pop("revision", None)
        return cls(ts_ns, actor, kind, app, revision, record)


class Timeline:
    """Append events to, and read events from, one JSONL file."""

    def __init__(self, path: Path, clock: Clock = time.time_ns) -> None:
        self.path = Path(path)
        self.clock = clock

    def append(
        self,
        actor: str,
        kind: str,
        *,
        app: str | None = None,
        revision: str | None = None,
        ts_ns: int | None = None,
        **data: Any,
    ) -> Event:
        """Record one event now (or at ``ts_ns``) and return it."""
        event = Event(ts_ns if ts_ns is not None else self.clock(), actor, kind, app, revision, data)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (event.to_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return event

    def __iter__(self) -> Iterator[Event]:
        if not self.path.exists():
            return
        with self.path.open() as f:
            for raw in f:
                if not raw.endswith("\n"):
                    return  # a line still being written by another process: it is not an event yet
                line = raw.strip()
                if line:
                    try:
                        yield Event.from_json(line)
                    except ValueError:
                        continue  # a torn line (a writer died mid-write) holds no event to read

    def read(
        self,
        *,
        app: str | None = None,
        kind: str | None = None,
        since_ns: int | None = None,
    ) -> list[Event]:
        """All events, optionally only those of one app, one kind, or after a time."""
        return [
            e
            for e in self
            if (app is None or e.app == app)
            and (kind is None or e.kind == kind)
            and (since_ns is None or e.ts_ns >= since_ns)
        ]
