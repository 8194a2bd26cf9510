"""labkit.sim: a what-if model of the pull agent at scale, fitted from the learner's own timeline.

Three steps:

1. :mod:`labkit.sim.fit` — :func:`fit_timeline` measures (:mod:`labkit.sim.steps`) each step of the
   pipeline (webhook, refresh, compare, apply, health, detect, heal, the
   compare of an app a commit left unchanged, the export of each new commit
   and the worker's overhead per reconcile) on the
   lab's timeline and fits a distribution per step (:class:`PipelineFit`).
2. :mod:`labkit.sim.model` — :func:`predict_commit` and :func:`predict_drift`
   simulate the agent on SimPy (:mod:`labkit.sim.pipeline`: triggers, work
   queue, workers, shards, self-heal backoff) for any :class:`SimConfig`
   (:mod:`labkit.sim.config`; presets :func:`labkit_preset`, :func:`argocd`,
   :func:`flux`).
3. :mod:`labkit.sim.validate` — :func:`validate` sets predicted p50/p95
   against a run measured on the lab.

``benchmarks/bench_sim.py``, :mod:`labkit.ui.simplots` and the scale
experiment's :func:`labkit.scale.validate` call these. ``import labkit`` does
not import this package (it needs SimPy).
"""

from __future__ import annotations

from labkit.sim.config import PRESETS, SimConfig, argocd, flux
from labkit.sim.config import labkit as labkit_preset
from labkit.sim.fit import NotEnoughEvents, PipelineFit, StepFit, fit_timeline
from labkit.sim.model import Prediction, predict_commit, predict_drift, predict_many
from labkit.sim.pipeline import backoff_s
from labkit.sim.steps import step_durations
from labkit.sim.validate import measured_latencies, validate, validation_rows

__all__ = [
    "PRESETS",
    "NotEnoughEvents",
    "PipelineFit",
    "Prediction",
    "SimConfig",
    "StepFit",
    "argocd",
    "backoff_s",
    "fit_timeline",
    "flux",
    "labkit_preset",
    "measured_latencies",
    "predict_commit",
    "predict_drift",
    "predict_many",
    "step_durations",
    "validate",
    "validation_rows",
]
