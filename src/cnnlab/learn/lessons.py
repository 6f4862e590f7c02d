"""Helpers for the lesson scripts in ``lessons/``: fast mode, output folder, answer checking.

:func:`check` looks the expected answer up in :mod:`cnnlab.learn.answers` (so it never sits next to
the blank in the lesson) and says one of four things, without ever printing the answer: not answered
yet, correct, right value in the wrong format (``"26"`` instead of ``26``), or not quite (with a hint).

>>> from cnnlab.learn.lessons import check
>>> check("2.2", 26)
[x] 2.2 output height, padding 0, stride 1: correct
True
>>> check("2.2", "26")  # doctest: +ELLIPSIS
[~] 2.2 output height, padding 0, stride 1: right value, wrong format: you wrote text (in quotes); ...
False
>>> check("2.2", 25)
[!] 2.2 output height, padding 0, stride 1: not quite. Hint: (28 + 0 - 3) // 1 + 1
False
"""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.learn.answers import ANSWERS, Answer

FAST = bool(os.environ.get("CNNLAB_FAST"))  # CI runs every lesson top to bottom in this mode
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NOT_GIVEN = object()


def out_dir() -> Path:
    """Where lessons write their figures and runs: ``$CNNLAB_LESSON_OUT`` or ``./lesson-output``.

    Returns:
        The folder (created if needed).

    Example:

    >>> import tempfile
    >>> os.environ["CNNLAB_LESSON_OUT"] = tempfile.mkdtemp()
    >>> out_dir().is_dir()
    True
    >>> del os.environ["CNNLAB_LESSON_OUT"]
    """
    d = Path(os.environ.get("CNNLAB_LESSON_OUT", "lesson-output"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _numbers_in(x) -> list[float] | None:
    """The numbers a non-number answer holds ("26" -> [26.0], [26, 26] -> [26.0, 26.0]), or None."""
    if isinstance(x, str):
        found = _NUMBER.findall(x)
        leftover = _NUMBER.sub("", x).strip(" ()[],'\"")
        return [float(v) for v in found] if found and not leftover.replace(",", "").strip() else None
    if isinstance(x, (bool, np.bool_)):
        return [float(x)]
    if hasattr(x, "tolist"):  # NumPy arrays, torch tensors: plain Python numbers and lists
        x = x.tolist()
        if _is_number(x):
            return [float(x)]
    if isinstance(x, (list, tuple)):
        out = []
        for v in x:
            inner = [float(v)] if _is_number(v) else _numbers_in(v)
            if inner is None or len(inner) != 1:
                return None
            out += inner
        return out
    return None


def _close(a: list[float], b: list[float], tol: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def _scalar(x) -> bool:
    """A number, or a 0-d NumPy array / tensor holding one (what ``x.sum()`` returns)."""
    if _is_number(x):
        return True
    return getattr(x, "ndim", None) == 0 and str(getattr(x, "dtype", "")).split(".")[-1].startswith(
        ("int", "uint", "float"))


def _words(x) -> str:
    return str(x).strip().strip("'\"").strip().lower()


def grade(answer, expected, tol: float = 1e-6) -> tuple[str, str]:
    """Compare an answer with the expected one: the verdict and advice that never gives the answer away.

    Numbers match within ``tol``; a shape must be a tuple; words match ignoring case and spaces.

    Args:
        answer: what the student wrote (None: not answered yet).
        expected: a number, a tuple (a shape) or a word.
        tol: tolerance for numbers.

    Returns:
        ``(verdict, advice)``: verdict is "unanswered", "correct", "format" (right value, wrong
        format) or "wrong"; advice is a short sentence (empty when correct).

    Example:

    >>> grade(26, 26)[0], grade(26.0, 26)[0], grade("26", 26)[0], grade(25, 26)[0]
    ('correct', 'correct', 'format', 'wrong')
    >>> grade((32, 14, 14), (32, 14, 14))[0], grade([32, 14, 14], (32, 14, 14))
    ('correct', ('format', 'a shape is a tuple: write it with round brackets, (a, b, c)'))
    >>> grade(" VFlip ", "vflip")[0], grade(False, "no")[0]
    ('correct', 'format')
    """
    if answer is None:
        return "unanswered", "replace None with your answer"
    if isinstance(expected, str):
        if isinstance(answer, str):
            return ("correct", "") if _words(answer) == _words(expected) else ("wrong", "")
        yes_no = {"yes": True, "no": False}
        if isinstance(answer, (bool, np.bool_)) and _words(expected) in yes_no:
            if bool(answer) == yes_no[_words(expected)]:
                return "format", "answer with the word in quotes ('yes' or 'no'), not True/False"
        return "wrong", ""
    if isinstance(expected, tuple):
        want = [float(v) for v in expected]
        if isinstance(answer, tuple) and all(_is_number(v) for v in answer):
            return ("correct", "") if _close([float(v) for v in answer], want, tol) else ("wrong", "")
        got = _numbers_in(answer)
        if got is not None and _close(got, want, tol):
            if isinstance(answer, str):
                return "format", "you wrote text (in quotes); write the tuple itself, without quotes"
            if isinstance(answer, tuple):
                return "format", "write the numbers themselves, without quotes"
            return "format", "a shape is a tuple: write it with round brackets, (a, b, c)"
        return "wrong", ""
    want = [float(expected)]
    if _scalar(answer):
        return ("correct", "") if _close([float(answer)], want, tol) else ("wrong", "")
    got = _numbers_in(answer)
    if got is not None and _close(got, want, tol):
        if isinstance(answer, str):
            return "format", "you wrote text (in quotes); write the number itself, without quotes"
        if isinstance(answer, (bool, np.bool_)):
            return "format", "True/False is a yes/no value; write the number itself"
        return "format", "write one number, not a list"
    return "wrong", ""


def check(key: str, answer, expected=_NOT_GIVEN, tol: float = 1e-6, hint: str = "") -> bool:
    """Print whether ``answer`` is right, without printing the right answer. True only when it is.

    Args:
        key: an exercise of the lessons ("2.2": lesson 2, question 2; see :mod:`cnnlab.learn.answers`),
            or, with ``expected``, your own question's text.
        answer: the answer (None means "not answered yet").
        expected: for your own questions: the right answer (the lessons leave it out).
        tol: for your own questions: how close a number must be.
        hint: for your own questions: printed when the answer is wrong.

    Returns:
        True when the answer is correct (the right value in the right format).

    Raises:
        ConfigError: ``key`` names no exercise and no ``expected`` was given.

    Example:

    >>> check("3.1", (32, 14, 14))
    [x] 3.1 shape after pooling: correct
    True
    >>> check("my own question", None, expected=3)
    [ ] my own question: not answered yet: replace None with your answer
    False
    """
    if expected is _NOT_GIVEN:
        if key not in ANSWERS:
            raise ConfigError("key", key, f"an exercise number such as '2.2' (known: {', '.join(ANSWERS)})",
                              hint="or pass expected=... for a question of your own")
        item = ANSWERS[key]
        label = f"{key} {item.question}"
    else:
        item = Answer(key, expected, hint, tol)
        label = key
    verdict, advice = grade(answer, item.expected, item.tol)
    if verdict == "unanswered":
        print(f"[ ] {label}: not answered yet: {advice}")
    elif verdict == "correct":
        print(f"[x] {label}: correct")
    elif verdict == "format":
        print(f"[~] {label}: right value, wrong format: {advice}")
    else:
        print(f"[!] {label}: not quite." + (f" Hint: {item.hint}" if item.hint else ""))
    return verdict == "correct"
