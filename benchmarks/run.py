"""Run benchmarks and print their tables: ``python -m benchmarks.run NAME|all [--repeat N]``.

Benchmarks are not tests (STYLE.md): they measure on the real lab and print a
table (what, measured, target, note) for the README. ``make bench`` runs all;
``make bench-up`` runs the life-cycle one. Add a benchmark by adding an entry
to :data:`BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

Row = tuple[str, str, str, str]


def _up(tmp: Path, repeat: int) -> list[Row]:
    from benchmarks import bench_up

    return bench_up.run(tmp, repeat=repeat)


def _controller(tmp: Path, repeat: int) -> list[Row]:
    from benchmarks import bench_controller
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / "controller-home")
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        return bench_controller.run(lab, tmp)
    finally:
        Lab.teardown(settings, progress=lambda m: None)


def _drift(tmp: Path, repeat: int) -> list[Row]:
    from benchmarks import bench_drift
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / "drift-home")
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        return bench_drift.run(lab)
    finally:
        Lab.teardown(settings, progress=lambda m: None)


def _engines(tmp: Path, repeat: int) -> list[Row]:
    from benchmarks import bench_engines
    from labkit.lab import Lab
    from labkit.settings import Settings

    settings = Settings(home=tmp / "engines-home")
    lab = Lab.up(settings, progress=lambda m: None)
    try:
        return bench_engines.run(lab)
    finally:
        Lab.teardown(settings, progress=lambda m: None)


def _engine_scale(tmp: Path, repeat: int, apps: tuple[int, ...] = ()) -> list[Row]:
    from benchmarks import bench_engine_scale, bench_scale

    return bench_engine_scale.run(tmp, apps or bench_scale.APPS)


def _scale(tmp: Path, repeat: int, apps: tuple[int, ...] = ()) -> list[Row]:
    from benchmarks import bench_scale

    return bench_scale.run(tmp, apps or bench_scale.APPS)


def _soak(tmp: Path, repeat: int, minutes: float = 30.0) -> list[Row]:
    from benchmarks import bench_soak

    return bench_soak.run(tmp, minutes)


def _scale_model(tmp: Path, repeat: int, apps: tuple[int, ...] = ()) -> list[Row]:
    from benchmarks import bench_scale

    return bench_scale.model(tmp, apps or bench_scale.MODEL_APPS)


def _sim(tmp: Path, repeat: int, timeline: Path | None = None) -> list[Row]:
    from benchmarks import bench_sim

    return bench_sim.run(tmp, timeline)


BENCHMARKS: dict[str, Callable[[Path, int], list[Row]]] = {
    "up": _up,
    "controller": _controller,
    "drift": _drift,
    "engines": _engines,
    # In `all`: issue 10 asks `make bench` for these rows. Long on 2 cores:
    # 100 and 500 apps took 40 min, 1000 apps 74 min.
    "engine-scale": _engine_scale,
    "sim": _sim,
    "scale": _scale,
    "scale-model": _scale_model,
    "soak": _soak,
}


def table(title: str, rows: Sequence[Row]) -> str:
    header: Row = ("benchmark", "measured", "target", "note")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([title, line, fmt.format(*header), line, *(fmt.format(*r) for r in rows), line])


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give app counts like 100,500,1000") from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: every app count must be at least 1")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement where it applies")
    parser.add_argument("--timeline", type=Path, help="sim: fit from this timeline.jsonl, not the lab's")
    parser.add_argument(
        "--apps", type=_counts, default=(), help="scale, scale-model, engine-scale: app counts: 100,500"
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="soak: how long to run, in minutes")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"labkit-bench-{name}-") as tmp:
            bench = {
                "sim": partial(_sim, timeline=args.timeline),
                "scale": partial(_scale, apps=args.apps),
                "engine-scale": partial(_engine_scale, apps=args.apps),
                "scale-model": partial(_scale_model, apps=args.apps),
                "soak": partial(_soak, minutes=args.minutes),
            }.get(name, BENCHMARKS[name])
            rows = bench(Path(tmp), args.repeat)
        print(table(f"{name} (python -m benchmarks.run {name})", rows), flush=True)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
