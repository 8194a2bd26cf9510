"""lab.json and the lab lock: what makes up/down/reset safe to run twice at once."""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from labkit.cluster.labstate import LabRecord, lab_lock, read_record, write_record
from labkit.errors import LabStateError

RECORD = LabRecord("kwok", "/lab/kubeconfig", "kwok-labkit", "labkit", "2026-01-01T00:00:00Z", ["default"])


def test_a_record_survives_a_round_trip(tmp_path: Path) -> None:
    write_record(tmp_path, RECORD)
    assert read_record(tmp_path) == RECORD


def test_a_missing_or_garbled_record_means_no_lab(tmp_path: Path) -> None:
    assert read_record(tmp_path) is None
    (tmp_path / "lab.json").write_text("{not json")
    assert read_record(tmp_path) is None
    (tmp_path / "lab.json").write_text('{"backend": "kwok"}')
    assert read_record(tmp_path) is None


def test_a_second_locker_waits_says_who_holds_the_lock_and_gives_up(tmp_path: Path) -> None:
    messages: list[str] = []
    with lab_lock(tmp_path, timeout_s=5, progress=messages.append, what="labkit up"):
        start = time.monotonic()
        with (
            pytest.raises(LabStateError) as e,
            lab_lock(tmp_path, timeout_s=0.5, progress=messages.append, what="labkit up"),
        ):
            pass
        assert time.monotonic() - start >= 0.5
    assert f"pid {os.getpid()}: labkit up" in e.value.message
    assert "waiting" in messages[0]


def test_a_waiter_gets_the_lock_when_the_holder_finishes(tmp_path: Path) -> None:
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with lab_lock(tmp_path, timeout_s=5, progress=lambda m: None, what="first"):
            held.set()
            time.sleep(0.4)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with lab_lock(tmp_path, timeout_s=5, progress=lambda m: None, what="second"):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_a_lock_file_removed_by_down_while_waiting_is_not_trusted(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    state.mkdir()
    fd = os.open(state / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)

    def down() -> None:
        time.sleep(0.3)
        shutil.rmtree(state)  # what `labkit down` does while holding the lock
        os.close(fd)

    thread = threading.Thread(target=down)
    thread.start()
    with lab_lock(state, timeout_s=5, progress=lambda m: None, what="up"):
        # We hold a lock on the lock file that exists now, not on the removed one.
        assert os.stat(state / ".lock").st_ino == _held_inode(state)
    thread.join()


def _held_inode(state: Path) -> int:
    probe = os.open(state / ".lock", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.fstat(probe).st_ino
    finally:
        os.close(probe)
