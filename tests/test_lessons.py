"""Every lesson runs top to bottom (fast mode), and its answer checker accepts right and rejects wrong answers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.learn.lessons import check

LESSONS = sorted((Path(__file__).parent.parent / "lessons").glob("[0-9]*.py"))


def test_there_is_a_lesson_per_lecture_section():
    names = " ".join(p.stem for p in LESSONS)
    for topic in ("images", "convolution", "pooling", "augmentation", "normalization", "dropout", "transfer"):
        assert topic in names


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_top_to_bottom(lesson, tmp_path):
    env = dict(os.environ, CNNLAB_FAST="1", CNNLAB_LESSON_OUT=str(tmp_path), MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, str(lesson)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "not answered yet" in r.stdout  # the exercises are there, waiting for the student
    text = lesson.read_text()
    assert "# %%" in text and "## Summary" in text and "## Exercises" in text
    assert list(tmp_path.glob("*.png")), "each lesson draws at least one figure"


def test_check_accepts_right_and_rejects_wrong_answers(capsys):
    assert check("q", 26, 26) and check("q", (32, 14, 14), (32, 14, 14)) and check("q", "VFlip", "vflip")
    assert not check("q", 25, 26) and not check("q", (32, 14), (32, 14, 14)) and not check("q", "flip", "vflip")
    assert not check("q", None, 26)
    assert "not answered yet" in capsys.readouterr().out
