"""The lab's supervisor with real processes (sleep, sh): restart, give up, adopt, stop."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit import supervisor
from labkit.errors import LabStateError
from labkit.supervisor import Program


def eventually(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    supervisor.stop(tmp_path)


def sleeper(state_dir: Path, name: str = "sleeper") -> Program:
    return Program(name, ("sleep", "300"), str(state_dir / f"{name}.log"))


def entry(state_dir: Path, name: str) -> dict[str, Any]:
    return dict(supervisor.read_status(state_dir)["programs"].get(name, {}))


def test_a_killed_program_is_restarted_at_once_with_a_new_pid(state_dir: Path) -> None:
    supervisor.ensure_running(state_dir)
    supervisor.register(state_dir, sleeper(state_dir))
    pid = supervisor.wait_for_pid(state_dir, "sleeper")
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    new = eventually(
        lambda: (p := entry(state_dir, "sleeper").get("pid")) not in (None, pid) and p, 5, "restart"
    )
    assert time.monotonic() - killed_at < 3
    assert supervisor.pid_alive(new)
    assert entry(state_dir, "sleeper")["restarts"] == 1
    assert entry(state_dir, "sleeper")["crashes"] == 1


def test_registering_the_same_program_again_does_not_restart_it(state_dir: Path) -> None:
    supervisor.ensure_running(state_dir)
    assert supervisor.register(state_dir, sleeper(state_dir))
    pid = supervisor.wait_for_pid(state_dir, "sleeper")
    assert not supervisor.register(state_dir, sleeper(state_dir))
    time.sleep(0.5)
    assert entry(state_dir, "sleeper")["pid"] == pid
    assert supervisor.register(state_dir, sleeper(state_dir), restart=True)
    eventually(lambda: entry(state_dir, "sleeper").get("pid") not in (None, pid), 10, "a fresh start")


def test_a_program_that_always_crashes_is_given_up_with_its_log(state_dir: Path) -> None:
    supervisor.ensure_running(state_dir)
    crasher = Program(
        "crasher", ("sh", "-c", "echo boom: port in use; exit 3"), str(state_dir / "crasher.log")
    )
    supervisor.register(state_dir, crasher)
    gave_up = eventually(lambda: entry(state_dir, "crasher").get("state") == "gave-up", 20, "give up")
    assert gave_up
    status = entry(state_dir, "crasher")
    assert status["message"].startswith("gave up after 5 crashes in ")
    assert f"tail -n 50 {state_dir / 'crasher.log'}" in status["message"]
    assert "boom: port in use" in status["log_tail"][-1]
    assert status["last_exit"] == 3
    with pytest.raises(LabStateError, match="crasher keeps crashing"):
        supervisor.wait_for_pid(state_dir, "crasher", timeout_s=1)


def test_unregister_stops_the_program_and_stop_leaves_no_process(state_dir: Path) -> None:
    supervisor.ensure_running(state_dir)
    supervisor.register(state_dir, sleeper(state_dir, "a"))
    supervisor.register(state_dir, sleeper(state_dir, "b"))
    a, b = supervisor.wait_for_pid(state_dir, "a"), supervisor.wait_for_pid(state_dir, "b")
    supervisor.unregister(state_dir, "a")
    eventually(lambda: not supervisor.pid_alive(a), 10, "a to stop")
    assert supervisor.pid_alive(b)
    boss = supervisor.read_status(state_dir)["pid"]
    supervisor.stop(state_dir)
    assert not supervisor.pid_alive(b) and not supervisor.pid_alive(boss)


def test_a_killed_supervisor_leaves_its_children_running_and_the_next_one_adopts_them(
    state_dir: Path,
) -> None:
    first = supervisor.ensure_running(state_dir)
    supervisor.register(state_dir, sleeper(state_dir))
    pid = supervisor.wait_for_pid(state_dir, "sleeper")
    os.kill(first, signal.SIGKILL)
    eventually(lambda: not supervisor.pid_alive(first), 5, "the supervisor to die")
    assert supervisor.pid_alive(pid), "a dead supervisor must not take the lab down with it"
    second = supervisor.ensure_running(state_dir)
    assert second != first
    time.sleep(0.5)
    assert entry(state_dir, "sleeper")["pid"] == pid, "adopted, not started twice"
    os.kill(pid, signal.SIGKILL)
    eventually(
        lambda: entry(state_dir, "sleeper").get("pid") not in (None, pid), 5, "restart of an adopted child"
    )


def test_a_program_that_cannot_be_executed_says_why(state_dir: Path) -> None:
    supervisor.ensure_running(state_dir)
    supervisor.register(
        state_dir, Program("ghost", (str(state_dir / "no-such-binary"),), str(state_dir / "g.log"))
    )
    message = eventually(lambda: entry(state_dir, "ghost").get("message"), 5, "a message")
    assert "cannot start" in message and "no-such-binary" in message


def test_the_supervisor_runs_as_python_m_labkit_supervisor(state_dir: Path) -> None:
    pid = supervisor.ensure_running(state_dir)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[:3] == [sys.executable.encode(), b"-m", b"labkit.supervisor"]


def test_a_program_that_ran_stable_has_its_crashes_forgotten_so_the_next_restart_has_no_backoff(
    state_dir: Path,
) -> None:
    sup = supervisor.Supervisor(state_dir)
    supervisor.register(state_dir, sleeper(state_dir))
    sup.tick(time.monotonic())
    child = sup.children["sleeper"]
    assert child.pid is not None
    try:
        child.crash_times = [time.monotonic() - 40]
        sup.tick(time.monotonic())
        assert child.crash_times, "not stable yet: the crash still counts"
        child.started_at = time.time() - supervisor.STABLE_S - 1
        sup.tick(time.monotonic())
        assert child.crash_times == []
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        if child.popen is not None:
            child.popen.wait()
