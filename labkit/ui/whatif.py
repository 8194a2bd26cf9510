"""The what-if widget of notebook 12: controls that redraw the model's predicted commit -> Synced ECDF.

``notebooks/12-gitops-at-scale-what-if.ipynb`` builds one :class:`WhatIf` from
the :class:`labkit.sim.PipelineFit` fitted on the learner's own timeline. A
preset dropdown (labkit, Argo CD, Flux) sets the sliders to that engine's
defaults; every change of a control turns the knobs into a
:class:`labkit.sim.SimConfig` (:func:`config_from`), runs
:func:`labkit.sim.predict_commit` and draws the what-if beside the preset's
defaults (:func:`labkit.ui.simplots.whatif_ecdf`), with their p50/p95 table.
A combination the model refuses (more shards than apps, no trigger at all)
is shown as its message instead of a plot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import ipywidgets as w

from labkit.sim import PRESETS, PipelineFit, Prediction, SimConfig, predict_commit
from labkit.ui.simplots import whatif_ecdf

PRESET_LABELS = {"labkit": "labkit's agent", "argocd": "Argo CD", "flux": "Flux"}
"""Preset name (a key of :data:`labkit.sim.PRESETS`) -> what the dropdown calls it."""


@dataclass(frozen=True)
class Knobs:
    """What the widget lets the learner change; everything else comes from the preset."""

    preset: str
    apps: int
    poll_interval_s: float
    poll_jitter_s: float
    webhook: bool
    workers: int
    shards: int


def defaults(preset: str, apps: int) -> Knobs:
    """The knobs of one preset's defaults for ``apps`` apps."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: use one of {', '.join(PRESETS)}")
    c = PRESETS[preset](apps)
    return Knobs(preset, apps, c.poll_interval_s, c.poll_jitter_s, c.webhook, c.workers, c.shards)


def config_from(knobs: Knobs) -> SimConfig:
    """The preset's configuration with the knobs applied, named "what-if" when they differ from it."""
    changed = knobs != defaults(knobs.preset, knobs.apps)
    return PRESETS[knobs.preset](
        knobs.apps,
        poll_interval_s=knobs.poll_interval_s,
        poll_jitter_s=knobs.poll_jitter_s,
        webhook=knobs.webhook,
        workers=knobs.workers,
        shards=knobs.shards,
        name=f"{knobs.preset} what-if" if changed else knobs.preset,
    )


class WhatIf:
    """Sliders and toggles over the model; ``predictions()`` is what the plot shows."""

    def __init__(self, fit: PipelineFit, preset: str = "argocd", apps: int = 2000, seed: int = 0) -> None:
        self.fit = fit
        self.seed = seed
        style: dict[str, Any] = {"description_width": "140px"}
        self.preset = w.Dropdown(
            options=[(label, name) for name, label in PRESET_LABELS.items()],
            description="preset",
            style=style,
        )
        self.apps = w.IntSlider(min=10, max=5000, step=10, description="apps", style=style)
        self.poll = w.FloatSlider(min=0, max=900, step=5, description="poll interval (s)", style=style)
        self.jitter = w.FloatSlider(min=0, max=300, step=5, description="poll jitter (s)", style=style)
        self.webhook = w.Checkbox(description="webhook on push", style=style)
        self.workers = w.IntSlider(min=1, max=64, description="workers per shard", style=style)
        self.shards = w.IntSlider(min=1, max=16, description="controller shards", style=style)
        self.out = w.Output()
        self.refused = ""
        """The model's message when it refuses the current knobs, else empty."""
        self._quiet = True
        self.preset.value = preset
        self.set(defaults(preset, apps))
        self._quiet = False
        self.preset.observe(self._on_preset, names="value")
        for control in (self.apps, self.poll, self.jitter, self.webhook, self.workers, self.shards):
            control.observe(lambda _: self.redraw(), names="value")
        self.widget = w.VBox(
            [
                self.preset,
                self.apps,
                self.poll,
                self.jitter,
                self.webhook,
                self.workers,
                self.shards,
                self.out,
            ]
        )
        self.redraw()

    def knobs(self) -> Knobs:
        return Knobs(
            self.preset.value,
            self.apps.value,
            self.poll.value,
            self.jitter.value,
            self.webhook.value,
            self.workers.value,
            self.shards.value,
        )

    def set(self, knobs: Knobs) -> None:
        """Move every control to ``knobs`` and redraw once."""
        quiet, self._quiet = self._quiet, True
        self.preset.value = knobs.preset
        self.apps.value, self.poll.value, self.jitter.value = (
            knobs.apps,
            knobs.poll_interval_s,
            knobs.poll_jitter_s,
        )
        self.webhook.value, self.workers.value, self.shards.value = knobs.webhook, knobs.workers, knobs.shards
        self._quiet = quiet
        self.redraw()

    def change(self, **knobs: Any) -> None:
        """Change some knobs as a learner would with the controls, e.g. ``change(webhook=False)``."""
        self.set(replace(self.knobs(), **knobs))

    def predictions(self) -> list[Prediction]:
        """The preset's defaults and, when the knobs differ, the what-if (ValueError: the model refuses)."""
        knobs = self.knobs()
        configs = [config_from(defaults(knobs.preset, knobs.apps)), config_from(knobs)]
        unique = list(dict.fromkeys(configs))
        return [predict_commit(c, self.fit, seed=self.seed) for c in unique]

    def redraw(self) -> None:
        if self._quiet:
            return
        from IPython.display import display

        self.out.clear_output(wait=True)
        with self.out:
            try:
                predictions, self.refused = self.predictions(), ""
            except ValueError as e:
                self.refused = str(e)
                print(f"The model refuses this combination: {e}")
                return
            display(whatif_ecdf(predictions))
            for p in predictions:
                row = p.summary()[0]
                print(f"{row['config']:>16}: p50 {row['p50_s']:.1f} s, p95 {row['p95_s']:.1f} s")

    def _on_preset(self, change: dict[str, Any]) -> None:
        if self._quiet:  # moved by set(), not by the learner
            return
        self.set(defaults(change["new"], self.apps.value))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
