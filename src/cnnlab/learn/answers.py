"""The answers to the lessons' exercises, kept away from the blanks (no peeking!).

Each entry: the question's key (lesson.question), its short text, the expected answer, a hint, and
the tolerance for numbers. :func:`cnnlab.learn.lessons.check` compares without ever printing the answer.

>>> from cnnlab.learn.answers import ANSWERS
>>> ANSWERS["2.2"].question
'output height, padding 0, stride 1'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """One exercise's expected answer.

    Args:
        question: the question in a few words (printed with the verdict).
        expected: the right answer: a number, a tuple (a shape) or a word.
        hint: printed when the answer is wrong.
        tol: how far a number may be from ``expected`` and still count.

    Example:

    >>> Answer("scale factor", 1.25, "1 / (1 - p)", tol=1e-3).tol
    0.001
    """

    question: str
    expected: object
    hint: str = ""
    tol: float = 1e-6


ANSWERS = {
    # lesson 1: images
    "1.1": Answer("numbers in a 1024x1024 RGB photo", 1024 * 1024 * 3, "H * W * channels"),
    "1.2": Answer("index of the dark pixel", 4, "row * W + col, counting from 0"),
    "1.3": Answer("distance between vertical neighbours", 28, "one full row apart"),
    # lesson 2: convolution
    "2.1": Answer("sum of products", 1 * 1 + 4 * -1, "multiply matching entries, then add"),
    "2.2": Answer("output height, padding 0, stride 1", 26, "(28 + 0 - 3) // 1 + 1"),
    "2.3": Answer("output height, padding 1, stride 2", 14, "(28 + 2 - 3) // 2 + 1"),
    # lesson 3: pooling
    "3.1": Answer("shape after pooling", (32, 14, 14), "channels stay, H and W halve"),
    "3.2": Answer("pooled value", 9, "the largest of the four"),
    # lesson 4: augmentation
    "4.1": Answer("new column", 13, "moving right adds to the column"),
    "4.2": Answer("the harmful augmentation", "vflip", "which one turns a 6 upside down?"),
    # lesson 5: normalization
    "5.1": Answer("normalized value", 2.0, "(200 - 100) / 50"),
    "5.2": Answer("mean after batch norm", 0.0, "batch norm subtracts the batch mean", tol=1e-6),
    # lesson 6: dropout
    "6.1": Answer("scale factor", 1.25, "1 / (1 - p)", tol=1e-3),
    "6.2": Answer("active units", 150, "(1 - p) * 200"),
    # lesson 7: transfer learning
    "7.1": Answer("head parameters", 1280 * 10 + 10, "weights + biases"),
    "7.2": Answer("frozen batch-norm statistics updated?", "no", "frozen means frozen: eval mode"),
}
