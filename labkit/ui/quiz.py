"""A self-check quiz with feedback, for the interview-prep notebook.

The notebook writes the :class:`Question` list and shows ``Quiz(questions)``;
a click on a choice says right or wrong and explains why. The score counts
questions answered right at the first try, so clicking through every choice
does not earn points; :meth:`Quiz.answer` is the plain method the buttons
call, so tests and notebooks can answer without a browser.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from labkit.errors import LabkitError


class QuizError(LabkitError):
    """A question is malformed, or an answer names a question or choice that does not exist."""


@dataclass(frozen=True)
class Question:
    """One multiple-choice question; ``answer_index`` is the position of the right choice."""

    prompt: str
    choices: tuple[str, ...]
    answer_index: int
    explanation: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) < 2:
            raise QuizError(f"question {self.prompt!r} needs at least two choices", hint="add a wrong answer")
        if not 0 <= self.answer_index < len(self.choices):
            raise QuizError(
                f"question {self.prompt!r}: answer_index {self.answer_index} is not one of its "
                f"{len(self.choices)} choices",
                hint="answer_index counts from 0",
            )


class Quiz:
    """Questions with one button per choice; feedback under each question and a running score."""

    def __init__(self, questions: Sequence[Question]) -> None:
        if not questions:
            raise QuizError("a quiz needs at least one question")
        self.questions = tuple(questions)
        self.first_answers: dict[int, int] = {}
        """Question index -> the choice clicked first (what the score counts)."""
        self.buttons: list[list[w.Button]] = []
        self.feedback: list[w.HTML] = []
        self.score_label = w.HTML()
        boxes = []
        for q_index, question in enumerate(self.questions):
            buttons = [
                self._choice_button(q_index, c_index, text) for c_index, text in enumerate(question.choices)
            ]
            self.buttons.append(buttons)
            self.feedback.append(w.HTML())
            prompt = w.HTML(f"<b>{q_index + 1}. {html.escape(question.prompt)}</b>")
            boxes.append(w.VBox([prompt, *buttons, self.feedback[-1]], layout=w.Layout(margin="0 0 12px 0")))
        self.widget = w.VBox([*boxes, self.score_label])
        self._show_score()

    def _choice_button(self, q_index: int, c_index: int, text: str) -> w.Button:
        button = w.Button(description=text, tooltip=text, layout=w.Layout(width="auto"))
        button.on_click(lambda _b: self.answer(q_index, c_index))
        return button

    def answer(self, question: int, choice: int) -> bool:
        """Pick ``choice`` for ``question`` (both count from 0): show the feedback; True when right."""
        if not 0 <= question < len(self.questions):
            raise QuizError(f"there is no question {question}", hint=f"pick 0 to {len(self.questions) - 1}")
        q = self.questions[question]
        if not 0 <= choice < len(q.choices):
            raise QuizError(
                f"question {question} has no choice {choice}", hint=f"pick 0 to {len(q.choices) - 1}"
            )
        self.first_answers.setdefault(question, choice)
        right = choice == q.answer_index
        for i, button in enumerate(self.buttons[question]):
            button.button_style = "success" if right and i == choice else "danger" if i == choice else ""
        verdict = (
            "Right." if right else f"Not quite: the answer is “{html.escape(q.choices[q.answer_index])}”."
        )
        color = "#2e7d32" if right else "#c62828"
        self.feedback[
            question
        ].value = f'<span style="color:{color}"><b>{verdict}</b></span> {html.escape(q.explanation)}'
        self._show_score()
        return right

    @property
    def score(self) -> int:
        """Questions answered right at the first try."""
        return sum(1 for q, c in self.first_answers.items() if self.questions[q].answer_index == c)

    @property
    def answered(self) -> int:
        return len(self.first_answers)

    def _show_score(self) -> None:
        self.score_label.value = (
            f"<b>Score: {self.score} / {len(self.questions)}</b> "
            f"<small>({self.answered} answered; only first tries count)</small>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def display(self) -> None:
        from IPython.display import display

        display(self.widget)


__all__ = ["Question", "Quiz", "QuizError"]
