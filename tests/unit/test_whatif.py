"""The what-if widget of notebook 12 (labkit/ui/whatif.py): knobs -> config -> predictions, no lab needed."""

from __future__ import annotations

import pytest

from labkit.sim import PipelineFit, StepFit, argocd, flux
from labkit.ui.whatif import Knobs, WhatIf, config_from, defaults


def _fit() -> PipelineFit:
    def step(name: str, seconds: float) -> StepFit:
        return StepFit.from_samples(name, [seconds * f for f in (0.8, 0.9, 1.0, 1.1, 1.2)])

    return PipelineFit(
        refresh=step("refresh", 0.02),
        compare=step("compare", 0.05),
        apply=step("apply", 0.1),
        health=step("health", 1.0),
        export=step("export", 0.2),
        overhead=step("overhead", 0.01),
        webhook=step("webhook", 0.05),
    )


def test_defaults_are_the_presets_own_settings() -> None:
    knobs = defaults("argocd", 2000)
    assert knobs == Knobs("argocd", 2000, 120.0, 60.0, True, 20, 1)
    assert config_from(knobs) == argocd(2000)
    assert config_from(defaults("flux", 300)) == flux(300)


def test_changed_knobs_reach_the_config_and_rename_it() -> None:
    config = config_from(Knobs("argocd", 500, 30.0, 0.0, False, 8, 2))
    assert (config.poll_interval_s, config.poll_jitter_s, config.webhook, config.workers, config.shards) == (
        30.0,
        0.0,
        False,
        8,
        2,
    )
    assert config.name == "argocd what-if"
    assert config.operation_workers == argocd(500).operation_workers  # the rest stays the preset's


def test_an_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="labkit, argocd, flux"):
        defaults("spinnaker", 10)


def test_the_widget_predicts_the_defaults_then_the_what_if_beside_them() -> None:
    whatif = WhatIf(_fit(), preset="argocd", apps=200)
    assert [p.config.name for p in whatif.predictions()] == ["argocd"]
    whatif.change(webhook=False)
    defaults_p, what_if = whatif.predictions()
    assert what_if.config.name == "argocd what-if" and not what_if.config.webhook
    assert what_if.quantile("synced_s", 0.5) > defaults_p.quantile("synced_s", 0.5)  # waits for a poll


def test_choosing_a_preset_moves_every_control_to_its_defaults() -> None:
    whatif = WhatIf(_fit(), preset="argocd", apps=200)
    whatif.change(workers=3, shards=4)
    whatif.preset.value = "flux"
    assert whatif.knobs() == defaults("flux", 200)


def test_a_combination_the_model_refuses_shows_its_message_instead_of_a_plot() -> None:
    whatif = WhatIf(_fit(), preset="labkit", apps=10)
    whatif.change(shards=16)
    assert whatif.shards.value == 16
    with pytest.raises(ValueError, match="16 shards for 10 apps"):
        whatif.predictions()
    assert "16 shards for 10 apps" in whatif.refused
    whatif.change(shards=2)
    assert whatif.refused == ""
