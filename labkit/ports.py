"""The lab's TCP ports: picked once per lab, remembered in ``<state_dir>/ports.json``.

Every listener a lab starts (the Git HTTP server, Argo CD's processes, ...)
asks :func:`port` for its port by name. The first ask binds ``127.0.0.1:0``,
lets the kernel pick a free port, closes the socket and writes the number
down; every later ask returns the same number. So a process restarted by the
supervisor comes back on the same URL (an Argo CD Application's ``repoURL``
keeps working), and a port already written down by another lab under the same
``LABKIT_HOME`` is never handed out again, so two labs do not collide.

Callers: :mod:`labkit.githttp` and :func:`labkit.git.http_url` (the Git
server's port), the supervisor and the engines' runtimes for theirs, and
``labkit status`` through them. The file is updated under an ``fcntl`` lock,
so two processes asking at once get one answer.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabStateError

FILE = "ports.json"
_LOCK = ".ports.lock"
_TRIES = 20


def ports(state_dir: Path) -> dict[str, int]:
    """Every port the lab has been given so far: name -> port (empty when none)."""
    path = Path(state_dir) / FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise LabStateError(
            f"cannot read the lab's ports from {path}: {e}",
            hint=f"delete {path}; every process gets a new port at its next start",
        ) from e
    if not isinstance(data, dict):
        raise LabStateError(f"{path} does not hold a JSON object", hint=f"delete {path} and restart the lab")
    return {str(name): int(number) for name, number in data.items()}


def port(state_dir: Path, name: str) -> int:
    """The port called ``name`` of this lab: allocated on the first ask, the same one ever after."""
    state_dir = Path(state_dir)
    known = ports(state_dir)
    if name in known:
        return known[name]
    with _locked(state_dir):
        known = ports(state_dir)  # another process may have allocated it while we waited
        if name not in known:
            known[name] = _free_port(_taken_by_other_labs(state_dir) | set(known.values()))
            _write(state_dir / FILE, known)
        return known[name]


def _free_port(avoid: set[int]) -> int:
    """A port nothing listens on now (the kernel's pick), and not in ``avoid``."""
    for _ in range(_TRIES):
        number = _kernel_pick()
        if number not in avoid:
            return number
    raise LabStateError(
        f"no free TCP port on 127.0.0.1 after {_TRIES} tries",
        hint="stop labs you do not use (`labkit down`) and try again",
    )


def _kernel_pick() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _taken_by_other_labs(state_dir: Path) -> set[int]:
    """Ports written down by the other labs next to this one (``<home>/labs/*/ports.json``)."""
    taken: set[int] = set()
    for other in state_dir.resolve().parent.glob(f"*/{FILE}"):
        if other.parent != state_dir.resolve():
            try:
                taken.update(ports(other.parent).values())
            except LabStateError:
                continue  # a broken file of another lab is that lab's problem
    return taken


def _write(path: Path, known: dict[str, int]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / _LOCK).open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


__all__ = ["FILE", "port", "ports"]
