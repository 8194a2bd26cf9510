"""The lab's process supervisor: what a Deployment does for Argo CD in a real cluster.

Every long-running process the lab starts (labkit's controller, the Git HTTP
server, Argo CD's components and Redis) runs under one small supervisor
process per lab, ``python -m labkit.supervisor --state-dir DIR``, which
``labkit up`` starts (or restarts) and ``labkit down`` stops.

Why labkit's own and not supervisord or circus: the lab needs per-lab state in
its own directory, programs added and removed while it runs (``labkit argocd
up``), adoption of children after the supervisor itself was killed, and a
status a learner can read as JSON; that is ~250 readable lines here, against a
second config language and an RPC protocol.

The contract is files in ``<state_dir>/supervisor/``:

- ``programs/<name>.json`` — what to run (:class:`Program`); written by
  :func:`register`, removed by :func:`unregister`. The supervisor rescans the
  folder every tick: a new file starts a process, a changed one restarts it,
  a removed one stops it.
- ``status.json`` — written by the supervisor: its own pid and heartbeat, and
  per program its pid, state, restarts, crashes and the last log lines.

A process that exits is restarted after a backoff (0, 1, 2, 4, 8 s …, reset
after it ran :data:`STABLE_S`); after :data:`GIVE_UP_CRASHES` crashes within
:data:`GIVE_UP_WINDOW_S` it is left down ("gave up") until the next register.
Children run in their own process group (so their own children, git or helm,
stop with them) and outlive a killed supervisor: the next one adopts them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import LabStateError

TICK_S = 0.2
"""How often the supervisor looks at its programs, in seconds."""
BACKOFF_S = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Delay before restart number 1, 2, 3 … (the last value repeats), in seconds."""
STABLE_S = 30.0
"""A process that ran this long has its backoff reset, in seconds."""
GIVE_UP_CRASHES = 5
GIVE_UP_WINDOW_S = 60.0
"""Give up after GIVE_UP_CRASHES exits within this many seconds."""
STOP_GRACE_S = 5.0
"""SIGTERM, then SIGKILL after this many seconds."""
LOG_TAIL = 8
"""Log lines kept in status.json for a program that crashed."""


@dataclass(frozen=True)
class Program:
    """One process to keep running."""

    name: str
    argv: tuple[str, ...]
    log: str
    """File its stdout and stderr are appended to."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Added to the supervisor's environment."""
    cwd: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "argv": list(self.argv), "env": dict(self.env)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Program:
        return cls(
            str(data["name"]),
            tuple(data["argv"]),
            str(data["log"]),
            dict(data.get("env") or {}),
            data.get("cwd"),
        )


def home(state_dir: Path) -> Path:
    return state_dir / "supervisor"


# -- what `labkit up`, `labkit argocd up` and `labkit status` call ------------------------------


def register(state_dir: Path, program: Program, *, restart: bool = False) -> bool:
    """Ask the supervisor to run ``program``; True if that changed anything.

    Registering the same program again does nothing (``labkit up`` calls this every
    time), unless it gave up or ``restart`` is asked for: then it starts afresh.
    """
    path = home(state_dir) / "programs" / f"{program.name}.json"
    try:
        same = Program.from_json(json.loads(path.read_text())) == program
    except (OSError, ValueError, KeyError):
        same = False
    gave_up = read_status(state_dir).get("programs", {}).get(program.name, {}).get("state") == "gave-up"
    if same and not gave_up and not restart:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path, {**program.to_json(), "registered_at": time.time()})
    return True


def unregister(state_dir: Path, name: str) -> None:
    """Ask the supervisor to stop ``name`` and forget it."""
    (home(state_dir) / "programs" / f"{name}.json").unlink(missing_ok=True)


def read_status(state_dir: Path) -> dict[str, Any]:
    """The supervisor's last status.json, with ``alive`` telling whether the supervisor runs."""
    try:
        data = json.loads((home(state_dir) / "status.json").read_text())
    except (OSError, ValueError):
        data = {"pid": None, "programs": {}}
    data["alive"] = bool(data.get("pid")) and pid_alive(int(data["pid"]), "labkit.supervisor")
    return data


def ensure_running(state_dir: Path, timeout_s: float = 10.0) -> int:
    """Start the supervisor unless it runs; return its pid."""
    status = read_status(state_dir)
    if status["alive"]:
        return int(status["pid"])
    home(state_dir).mkdir(parents=True, exist_ok=True)
    log = open(home(state_dir) / "supervisor.log", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.supervisor", "--state-dir", str(state_dir)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    proc.returncode = 0  # it outlives us on purpose: no "still running" warning at exit
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if read_status(state_dir).get("pid") == proc.pid:
            return proc.pid
        time.sleep(0.05)
    raise LabStateError(
        "the lab's supervisor did not start", hint=f"read {home(state_dir) / 'supervisor.log'}"
    )


def stop(state_dir: Path, timeout_s: float = 15.0) -> None:
    """Stop the supervisor and every process it runs; kill leftovers a dead supervisor left."""
    status = read_status(state_dir)
    if status["alive"]:
        os.kill(int(status["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and pid_alive(int(status["pid"])):
            time.sleep(0.05)
    for name, entry in read_status(state_dir).get("programs", {}).items():
        pid = entry.get("pid")
        if pid and pid_alive(pid):
            _stop_group(pid, name)


def wait_for_pid(state_dir: Path, name: str, timeout_s: float = 20.0) -> int:
    """The pid the supervisor runs ``name`` under, once it has one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entry = read_status(state_dir).get("programs", {}).get(name, {})
        if entry.get("state") == "gave-up":
            raise LabStateError(
                f"{name} keeps crashing: {entry.get('message')}", hint=f"tail -n 50 {entry.get('log')}"
            )
        if entry.get("pid") and entry.get("state") == "running":
            return int(entry["pid"])
        time.sleep(0.05)
    raise LabStateError(
        f"{name} did not start within {timeout_s:.0f} s", hint=f"read {home(state_dir)}/status.json"
    )


# -- the supervisor process -------------------------------------------------------------------


@dataclass
class _Child:
    program: Program
    mtime: float
    pid: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    state: str = "starting"
    started_at: float = 0.0
    restarts: int = 0
    crash_times: list[float] = field(default_factory=list)
    next_start: float = 0.0
    last_exit: int | None = None
    message: str = ""

    def view(self) -> dict[str, Any]:
        tail = _tail(Path(self.program.log), LOG_TAIL) if self.crash_times else []
        return {
            "pid": self.pid,
            "state": self.state,
            "restarts": self.restarts,
            "crashes": len(self.crash_times),
            "last_exit": self.last_exit,
            "started_at": self.started_at,
            "message": self.message,
            "log": self.program.log,
            "log_tail": tail,
        }


class Supervisor:
    """Keeps every registered program running; one instance per lab, in its own process."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.children: dict[str, _Child] = {}
        self.stopping = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        self._adopt()
        while not self.stopping:
            self.tick(time.monotonic())
            time.sleep(TICK_S)
        for name, child in self.children.items():
            if child.pid:
                _stop_group(child.pid, name, child.popen)
            child.pid, child.state = None, "stopped"
        self._write_status()

    def tick(self, now: float) -> None:
        self._rescan()
        for child in self.children.values():
            self._check(child, now)
        self._write_status()

    def _adopt(self) -> None:
        """Take over the children of a supervisor that was killed (same argv, still alive)."""
        old = read_status(self.state_dir).get("programs", {})
        self._rescan()
        for name, child in self.children.items():
            pid = old.get(name, {}).get("pid")
            if pid and pid_alive(pid) and _cmdline(pid) == list(child.program.argv):
                child.pid, child.state, child.started_at = pid, "running", time.time()
                child.restarts = int(old[name].get("restarts", 0))

    def _rescan(self) -> None:
        folder = home(self.state_dir) / "programs"
        seen: set[str] = set()
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                mtime, program = path.stat().st_mtime, Program.from_json(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError):
                continue  # half-written: next tick
            seen.add(program.name)
            known = self.children.get(program.name)
            if known is None or known.mtime != mtime:
                if known is not None and known.pid:
                    _stop_group(known.pid, known.program.name, known.popen)
                self.children[program.name] = _Child(program, mtime)
        for name in set(self.children) - seen:
            child = self.children.pop(name)
            if child.pid:
                _stop_group(child.pid, name, child.popen)

    def _check(self, child: _Child, now: float) -> None:
        if child.pid is not None and not self._exited(child):
            # started_at is wall-clock time (it is shown in status.json), ``now`` is monotonic.
            if child.crash_times and time.time() - child.started_at >= STABLE_S:
                child.crash_times.clear()
            return
        if child.pid is not None:  # it was running and is gone
            child.crash_times = [t for t in child.crash_times if now - t < GIVE_UP_WINDOW_S] + [now]
            child.pid, child.popen = None, None
            if len(child.crash_times) >= GIVE_UP_CRASHES:
                child.state = "gave-up"
                child.message = (
                    f"gave up after {len(child.crash_times)} crashes in "
                    f"{now - child.crash_times[0]:.0f} s; see: tail -n 50 {child.program.log}"
                )
                return
            delay = BACKOFF_S[min(len(child.crash_times) - 1, len(BACKOFF_S) - 1)]
            child.state, child.next_start = "backoff", now + delay
        if child.state == "gave-up" or now < child.next_start:
            return
        self._start(child, now)

    def _exited(self, child: _Child) -> bool:
        if child.popen is not None:
            code = child.popen.poll()
            if code is not None:
                child.last_exit = code
            return code is not None
        assert child.pid is not None
        return not pid_alive(child.pid)

    def _start(self, child: _Child, now: float) -> None:
        program = child.program
        Path(program.log).parent.mkdir(parents=True, exist_ok=True)
        with open(program.log, "ab") as log:
            try:
                child.popen = subprocess.Popen(
                    list(program.argv),
                    cwd=program.cwd,
                    env={**os.environ, **program.env},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as e:
                child.crash_times.append(now)
                gave_up = len(child.crash_times) >= GIVE_UP_CRASHES
                child.state = "gave-up" if gave_up else "backoff"
                child.message, child.next_start = f"cannot start: {e}", now + 5
                return
        if child.started_at:
            child.restarts += 1
        child.pid, child.state, child.started_at, child.message = child.popen.pid, "running", time.time(), ""

    def _write_status(self) -> None:
        _write_json(
            home(self.state_dir) / "status.json",
            {
                "pid": os.getpid(),
                "updated_at": time.time(),
                "programs": {name: child.view() for name, child in sorted(self.children.items())},
            },
        )


# -- small helpers ------------------------------------------------------------------------------


def pid_alive(pid: int, cmdline_contains: str | None = None) -> bool:
    """True if ``pid`` runs (a zombie does not count) and, if given, its cmdline has that text."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
    except (ProcessLookupError, FileNotFoundError):
        return False
    except (PermissionError, OSError):
        return True
    return cmdline_contains is None or cmdline_contains in " ".join(_cmdline(pid))


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode(errors="replace") for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def _stop_group(pid: int, name: str, popen: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group of ``pid``, SIGKILL after the grace, and reap it if it is ours."""
    for sig, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if popen is not None and popen.poll() is not None or popen is None and not pid_alive(pid):
                return
            time.sleep(0.05)
    print(f"supervisor: {name} (pid {pid}) did not stop", file=sys.stderr, flush=True)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 8192))
            return f.read().decode(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m labkit.supervisor", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True, type=Path)
    Supervisor(parser.parse_args(argv).state_dir).run()


if __name__ == "__main__":
    main()
