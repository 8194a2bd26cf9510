"""How fast the lab's life cycle is: first build, fresh up, up when up, reset, down (issue 2's targets).

Each run uses a fresh LABKIT_HOME in a temporary directory and the shared binary
cache; the first-time build is not re-run (it takes minutes) but read from the
cache manifests the toolchain wrote when it built. Run: ``python -m benchmarks.run up``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from labkit.cluster import toolchain
from labkit.lab import Lab
from labkit.settings import Settings

Row = tuple[str, str, str, str]


def _timed(action: Callable[[], object]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def first_build(settings: Settings) -> Row:
    recorded = toolchain.recorded_build_seconds(settings)
    if any(v is None for v in recorded.values()):
        return ("first-time build (recorded)", "unknown", "", "cache not built by `labkit toolchain ensure`")
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in recorded.items())
    total = sum(v for v in recorded.values() if v is not None)
    return ("first-time build (recorded)", f"{total:.0f} s", "", parts + "; depends on how warm GOCACHE was")


def _make_work(lab: Lab) -> None:
    """Give reset something to undo: two namespaces with running pods, and a commit."""
    env = lab.env()
    for ns in ("bench-a", "bench-b"):
        subprocess.run(["kubectl", "create", "namespace", ns], env=env, check=True, capture_output=True)
        subprocess.run(
            ["kubectl", "-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=3"],
            env=env,
            check=True,
            capture_output=True,
        )
    lab.repo.commit_and_push("bench: extra file", {"apps/bench.yaml": "kind: ConfigMap\n"})
    time.sleep(2.5)  # pods Running (the lab's delay is 1-2 s)


def one_cycle(home: Path) -> dict[str, float]:
    """Seconds for: up fresh, up when up (in-process and via the CLI), reset, down."""
    settings = Settings(home=home)
    quiet: Callable[[str], None] = lambda m: None  # noqa: E731
    result: dict[str, float] = {}
    try:
        result["up_fresh"] = _timed(lambda: Lab.up(settings, progress=quiet))
        result["up_again"] = _timed(lambda: Lab.up(settings, progress=quiet))
        cli = [sys.executable, "-m", "labkit", "up"]
        env = {**os.environ, "LABKIT_HOME": str(home)}
        result["up_again_cli"] = _timed(lambda: subprocess.run(cli, env=env, check=True, capture_output=True))
        lab = Lab.attach(settings)
        _make_work(lab)
        result["reset"] = lab.reset(progress=quiet)
        result["down"] = _timed(lambda: lab.down(progress=quiet))
    finally:
        Lab.teardown(settings, progress=quiet)
    return result


def run(tmp: Path, repeat: int = 3) -> list[Row]:
    cycles = [one_cycle(tmp / f"home-{i}") for i in range(repeat)]

    def cell(key: str) -> str:
        values = [c[key] for c in cycles]
        return f"{statistics.median(values):.1f} s" + (f" (max {max(values):.1f})" if repeat > 1 else "")

    note = f"median of {repeat}" if repeat > 1 else "one run"
    return [
        first_build(Settings()),
        ("up, fresh, cached binaries (Lab.up)", cell("up_fresh"), "<= 30 s", note),
        ("up when already up (Lab.up)", cell("up_again"), "<= 3 s", note),
        ("up when already up (`labkit up` CLI)", cell("up_again_cli"), "<= 3 s", "includes Python start-up"),
        ("reset (2 namespaces, 6 pods, 1 commit)", cell("reset"), "<= 10 s", note),
        ("down", cell("down"), "", note),
    ]
