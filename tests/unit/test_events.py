"""The timeline file: appended by many processes, read while they write."""

from __future__ import annotations

from pathlib import Path

from labkit.events import Timeline


def test_a_line_still_being_written_is_not_read_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.jsonl", clock=lambda: 1)
    timeline.append("git", "pushed", revision="a")
    with timeline.path.open("a") as f:
        f.write('{"actor": "controller", "kind": "sync_fin\n')  # a writer that died mid-line
    timeline.append("controller", "healthy", revision="a")
    with timeline.path.open("a") as f:
        f.write('{"actor": "controller", "kind": "webho')  # another process is writing right now
    assert [e.kind for e in timeline.read()] == ["pushed", "healthy"]
