"""Helpers the notebooks call that are not lab actions: tables, waits, experiment files, checkpoints.

The notebooks in ``notebooks/`` stay thin: a cell is one or two calls. When a
cell would need a loop, a comprehension or a ``try``, the code lives here
instead, with a unit test in ``tests/unit/test_course.py``. Notebooks do
``from labkit import course`` and call ``course.X``; this module re-exports every
public name from the modules that hold it:

- :mod:`~labkit.course.tables`: DataFrames of commits, an Application, latencies.
- :mod:`~labkit.course.timeline`: marks, waits and tables over timeline events.
- :mod:`~labkit.course.actions`: :func:`attempt`, which prints a refusal instead of a traceback.
- :mod:`~labkit.course.gitshell`: changing the repository like a learner, echoing
  every ``$ git …`` command (:func:`set_replicas`, :func:`replace_in_file`, :func:`revert`...).
- :mod:`~labkit.course.experiments`: :func:`drift_tour` (real ``kubectl``) and
  :class:`Autoscaler`, which writes ``spec.replicas`` like an HPA.
- :mod:`~labkit.course.files`: files for the experiments.
- :mod:`~labkit.course.engines`: the real Argo CD beside labkit's agent (notebook 11):
  :func:`wait_argocd`, :func:`side_by_side`, :func:`time_until_replicas`.
- :mod:`~labkit.course.check`, :mod:`~labkit.course.checkpoints` and
  :mod:`~labkit.course.interview`: the interview checkpoints as data
  (:class:`Check`), one short set per notebook in :data:`CHECKPOINTS` and the
  follow-up bank for notebook 10 in :data:`QUESTIONS`. :func:`quiz` turns a set
  into the ``Quiz`` widget of :mod:`labkit.ui.quiz`, imported only then.

Nothing here imports pandas, matplotlib, ipywidgets or PyYAML at import time.
"""

from __future__ import annotations

from labkit.course.actions import attempt
from labkit.course.check import Check, answers_markdown, learner_seed, quiz, shuffled
from labkit.course.checkpoints import CHECKPOINTS, checkpoint
from labkit.course.engines import argocd_app, side_by_side, time_until_replicas, wait_argocd
from labkit.course.experiments import Autoscaler, drift_tour
from labkit.course.files import ordering_files, unreachable_kubeconfig
from labkit.course.gitshell import (
    commit_and_push,
    commit_files,
    commit_replicas,
    git,
    replace_in_file,
    revert,
    set_image,
    set_replicas,
)
from labkit.course.interview import QUESTIONS, TOPICS, questions_on
from labkit.course.tables import (
    app_status,
    commits_table,
    conditions,
    diff_table,
    history_id,
    history_table,
    lab_numbers,
    latency_table,
    repo_tree,
    resources_table,
    show_table,
    who_changed,
)
from labkit.course.timeline import (
    ACTIVITY_KINDS,
    activity,
    apply_order,
    heal_attempts,
    now_ns,
    wait_for_event,
)

__all__ = [
    "CHECKPOINTS",
    "QUESTIONS",
    "TOPICS",
    "Check",
    "ACTIVITY_KINDS",
    "Autoscaler",
    "activity",
    "answers_markdown",
    "apply_order",
    "app_status",
    "argocd_app",
    "attempt",
    "checkpoint",
    "commit_and_push",
    "commit_files",
    "commit_replicas",
    "commits_table",
    "conditions",
    "diff_table",
    "drift_tour",
    "git",
    "heal_attempts",
    "history_id",
    "history_table",
    "lab_numbers",
    "learner_seed",
    "latency_table",
    "now_ns",
    "ordering_files",
    "questions_on",
    "quiz",
    "replace_in_file",
    "repo_tree",
    "resources_table",
    "revert",
    "set_image",
    "set_replicas",
    "show_table",
    "side_by_side",
    "shuffled",
    "time_until_replicas",
    "unreachable_kubeconfig",
    "wait_argocd",
    "wait_for_event",
    "who_changed",
]
