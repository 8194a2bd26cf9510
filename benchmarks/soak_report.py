"""What the chaos soak counted and how it prints (:mod:`benchmarks.bench_soak` fills a :class:`Tally`).

:class:`SoakReport` turns the tally and the invariants into the rows that
``python -m benchmarks.run soak`` prints and the README shows: operations,
faults injected and survived, recovery p50/p95 per process, the invariants,
and what was lost (which must be 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from benchmarks.soak_checks import Check

Row = tuple[str, str, str, str]


@dataclass
class Tally:
    """What the soak did and measured."""

    ops: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    survived: Counter[str] = field(default_factory=Counter)
    recovery: dict[str, list[float]] = field(default_factory=dict)
    outage_heal: list[float] = field(default_factory=list)
    """Seconds from the new agent's first beat to the heal of drift made while it was down."""
    webhooks_accepted: int = 0
    errors: list[str] = field(default_factory=list)
    """Operations that failed and changes that were not carried through (each counts as lost)."""


@dataclass(frozen=True)
class SoakReport:
    minutes: float
    tally: Tally
    checks: tuple[Check, ...]

    @property
    def lost(self) -> int:
        """Failed operations, changes not carried through, faults not survived, invariants broken."""
        t = self.tally
        not_survived = sum(t.faults.values()) - sum(t.survived.values())
        return len(t.errors) + not_survived + sum(not c.ok for c in self.checks)

    def rows(self) -> list[Row]:
        t = self.tally
        injected, survived = sum(t.faults.values()), sum(t.survived.values())
        rows: list[Row] = [
            (
                "operations",
                f"{sum(t.ops.values())} ({_counts(t.ops)})",
                "-",
                f"{self.minutes:g} min, {t.webhooks_accepted} webhooks accepted",
            ),
            ("faults injected", f"{injected} ({_counts(t.faults)})", ">= 100 in 30 min", ""),
            ("faults survived", f"{survived}/{injected}", "all", "back within 60 s and serving"),
        ]
        for name, values in sorted(t.recovery.items()):
            supervised = name != "kube-apiserver"
            target, note = (
                ("p50 <= 3 s", "SIGKILL -> serving")
                if supervised
                else ("-", "kwok's; relaunched by the soak")
            )
            rows.append((f"recovery {name}", _stats(values), target, note))
        rows.append(
            ("drift made in an outage healed", _stats(t.outage_heal), "<= 5 s", "after the agent's beat")
        )
        rows += [
            (f"invariant: {c.name}", c.measured, "holds", "ok" if c.ok else "FAILED") for c in self.checks
        ]
        rows.append(("lost", str(self.lost), "0", "; ".join(t.errors[:3])))
        return rows


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _stats(values: list[float]) -> str:
    if not values:
        return "no data"
    p50, p95 = _pct(values, 0.5), _pct(values, 0.95)
    return f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(values):.2f} s (n={len(values)})"
