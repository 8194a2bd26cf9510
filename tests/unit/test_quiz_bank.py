"""The question bank teaches: right answers spread over positions, lengths that give nothing away, and
choices shuffled per learner at display (stable for one learner, different between learners)."""

from __future__ import annotations

from collections import Counter

import pytest

from labkit import course

BANK = [c for checks in course.CHECKPOINTS.values() for c in checks] + list(course.QUESTIONS)


def test_no_position_holds_more_than_40_percent_of_the_right_answers() -> None:
    positions = Counter(c.answer_index for c in BANK)
    worst, count = positions.most_common(1)[0]
    assert count <= 0.4 * len(BANK), f"position {worst} holds {count} of {len(BANK)} right answers"


def test_the_right_answer_is_the_longest_choice_in_at_most_a_third_of_the_questions() -> None:
    longest = [c.prompt for c in BANK if len(c.choices[c.answer_index]) >= max(map(len, c.choices))]
    assert len(longest) <= len(BANK) / 3, longest


def test_no_choice_is_a_throwaway_of_a_word_or_two() -> None:
    short = [(c.prompt, x) for c in BANK for x in c.choices if len(x.split()) < 3 and not x.startswith("`")]
    assert not short, short


def test_shuffled_keeps_the_right_answer_and_is_stable_for_one_learner() -> None:
    check = BANK[0]
    once, again = course.shuffled(check, "ana"), course.shuffled(check, "ana")
    assert once == again
    assert sorted(once.choices) == sorted(check.choices)
    assert once.choices[once.answer_index] == check.choices[check.answer_index]


def test_two_learners_see_different_orders_and_the_right_answer_moves() -> None:
    orders = {course.shuffled(BANK[0], f"learner-{i}").choices for i in range(20)}
    assert len(orders) > 5
    spots = Counter(course.shuffled(c, "ana").answer_index for c in BANK)
    assert max(spots.values()) <= 0.5 * len(BANK)


@pytest.mark.parametrize("notebook", sorted(course.CHECKPOINTS))
def test_the_widget_shows_the_shuffled_order_and_scores_the_right_choice(notebook: str) -> None:
    quiz = course.checkpoint(notebook, seed="ben")
    for i, check in enumerate(course.CHECKPOINTS[notebook]):
        shown = quiz.questions[i]
        assert shown.choices == course.shuffled(check, "ben").choices
        assert shown.choices[shown.answer_index] == check.choices[check.answer_index]


def test_the_learner_seed_is_taken_from_the_lab_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_HOME", "/tmp/one")
    first = course.learner_seed()
    monkeypatch.setenv("LABKIT_HOME", "/tmp/two")
    assert course.learner_seed() != first and course.learner_seed().endswith("@/tmp/two")
