"""Shared by the tests (tests/) and the docstring examples (src/cnnlab, run with --doctest-modules)."""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test and each docstring example gets its own cnnlab cache (folder decodes, features, downloads)."""
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "cnnlab-home"))
