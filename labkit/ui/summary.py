"""The one-picture summary of GitOps: Git holds the truth, the agent enforces it on the cluster.

The last notebook section ("the interview answer, in one breath") shows it
through ``labkit.ui.plots.summary_picture``. Drawn with matplotlib patches
and arrows so it renders offline, in tests, and at any size; solid arrows
are the pull model (GitOps), dashed ones the push model (CI applies), so the
picture also answers "push vs pull" side by side.
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from labkit.ui.figures import LabFigure, new_figure

PULL_COLOR = "tab:green"
PUSH_COLOR = "tab:gray"

# name -> (x, y of the centre, title, subtitle, face colour); the axes run 0..10 by 0..6.
BOXES = {
    "developer": (1.3, 4.6, "Developer", "edits YAML, opens a PR", "#eeeeee"),
    "git": (5.0, 4.6, "Git repository", "single source of truth:\nversioned, reviewed, audited", "#e8dcf5"),
    "agent": (
        5.0,
        2.5,
        "GitOps agent (labkit / Argo CD)",
        "the enforcer: pulls, diffs,\nsyncs, heals drift",
        "#dbe9f6",
    ),
    "cluster": (5.0, 0.6, "Kubernetes cluster", "what actually runs", "#dff0d8"),
    "ci": (8.7, 2.5, "CI pipeline", "push model: applies\nwith cluster credentials", "#fbe5cf"),
}
BOX_W, BOX_H = 2.8, 1.1

# (from box, its side, to box, its side, label, pull model?, sideways shift of both ends)
ARROWS = [
    ("developer", "right", "git", "left", "commit + push", True, 0.0),
    ("git", "bottom", "agent", "top", "pull: webhook or poll\n(the agent reads Git)", True, 0.0),
    ("agent", "bottom", "cluster", "top", "apply, self-heal", True, -0.6),
    ("cluster", "top", "agent", "bottom", "watch live state", True, 0.6),
    ("git", "right", "ci", "top", "push event", False, 0.0),
    ("ci", "bottom", "cluster", "right", "kubectl apply with\ncluster credentials", False, 0.0),
]


def _anchor(name: str, side: str, shift: float = 0.0) -> tuple[float, float]:
    """The middle of one side of box ``name`` (moved sideways by ``shift``), where an arrow attaches."""
    x, y = BOXES[name][:2]
    if side in ("top", "bottom"):
        return x + shift, y + (BOX_H / 2 + 0.08) * (1 if side == "top" else -1)
    return x + (BOX_W / 2 + 0.08) * (1 if side == "right" else -1), y + shift


def _route(a: tuple[float, float], b: tuple[float, float], start_side: str) -> str:
    """Straight when aligned, else one right-angle elbow leaving the box straight out of its side."""
    if a[0] == b[0] or a[1] == b[1]:
        return "arc3"
    return "angle,angleA=90,angleB=0" if start_side in ("top", "bottom") else "angle,angleA=0,angleB=90"


def _label_at(a: tuple[float, float], b: tuple[float, float], start_side: str) -> tuple[float, float]:
    """Beside the middle of a vertical run (or above a horizontal one), clear of the arrow."""
    if a[1] == b[1]:
        return min(a[0], b[0]) - 0.1, a[1] + 0.22
    if a[0] == b[0]:
        return a[0] + 0.12, (a[1] + b[1]) / 2
    x = a[0] if start_side in ("top", "bottom") else b[0]  # the vertical run of an elbow
    return x + 0.12, (a[1] + b[1]) / 2


def summary_picture() -> LabFigure:
    """Developer → Git (truth) → agent (enforcer) → cluster, with the push model dashed beside it."""
    fig, ax = new_figure(10, 6)
    ax.set_xlim(-0.3, 10.3)
    ax.set_ylim(-0.2, 5.6)
    ax.set_axis_off()
    ax.set_title("GitOps in one picture: Git holds the truth, the agent enforces it")
    for x, y, title, subtitle, color in BOXES.values():
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.05", fc=color, ec="0.3"
        )
        ax.add_patch(box)
        ax.text(x, y + 0.22, title, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(x, y - 0.2, subtitle, ha="center", va="center", fontsize=8)
    for start, start_side, end, end_side, label, pull, shift in ARROWS:
        a, b = _anchor(start, start_side, shift), _anchor(end, end_side, shift)
        color = PULL_COLOR if pull else PUSH_COLOR
        arrow = FancyArrowPatch(
            a,
            b,
            arrowstyle="-|>",
            mutation_scale=14,
            color=color,
            linewidth=2 if pull else 1.5,
            linestyle="-" if pull else "--",
            connectionstyle=_route(a, b, start_side),
        )
        ax.add_patch(arrow)
        ax.text(*_label_at(a, b, start_side), label, fontsize=7.5, color="0.2", va="center")
    handles = [
        Line2D([], [], color=PULL_COLOR, linewidth=2, label="pull model (GitOps agent)"),
        Line2D([], [], color=PUSH_COLOR, linewidth=1.5, linestyle="--", label="push model (CI applies)"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    return fig


__all__ = ["summary_picture"]
