"""The README tells the truth: its examples run, its file map is complete, its tables point at real things.

The "Extend cnnlab" examples are the README's own code blocks, executed here one by one, each in a
fresh namespace inside a temporary folder; whatever they register is removed afterwards.
"""

import doctest
import json
import re
from pathlib import Path

import pytest
import torch

import cnnlab
from cnnlab.config import RunConfig
from cnnlab.data.augment import augment_names, parse_augment, unregister_augment
from cnnlab.data.sources import list_sources, unregister_source
from cnnlab.errors import ConfigError
from cnnlab.models import model_info, registry

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BENCHMARKS = (ROOT / "docs" / "benchmarks.md").read_text()


def section(title: str, level: int = 2, text: str = README) -> str:
    """The text under the heading ``title`` up to the next heading of the same or a higher level."""
    marks = "#" * level
    match = re.search(rf"^{marks} {re.escape(title)}\n(.*?)(?=^#{{1,{level}}} |\Z)", text, re.M | re.S)
    assert match, f"README.md has no heading '{marks} {title}'"
    return match.group(1)


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language in ``text``."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def example(title: str) -> str:
    """The one Python block under ``### title`` in the "Extend cnnlab" section."""
    found = blocks(section(title, 3, section("Extend cnnlab")), "python")
    assert len(found) == 1, f"expected one python block under '### {title}', found {len(found)}"
    return found[0]


def run(code: str, title: str, tmp_path, monkeypatch) -> dict:
    """Execute a README block in a fresh namespace, in tmp_path (so relative run folders land there)."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(code, f"README.md ({title})", "exec"), namespace)
    return namespace


# ---------------------------------------------------------------- "Extend cnnlab", each example run


def test_extend_has_the_four_examples():
    titles = re.findall(r"^### (.+)$", section("Extend cnnlab"), re.M)
    assert titles == ["Add a model", "Add an augmentation step", "Add a data source", "Add a callback"]


@pytest.fixture
def model_registry(monkeypatch):
    """The model registry has no unregister: the test works on copies that monkeypatch puts back afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_INFO", dict(registry._INFO))


def test_add_a_model(model_registry, tmp_path, monkeypatch):
    assert "tiny_cnn" not in cnnlab.list_models()
    ns = run(example("Add a model"), "Add a model", tmp_path, monkeypatch)
    assert "tiny_cnn" in cnnlab.list_models()
    assert model_info("tiny_cnn").batch_size == 64
    meta = ns["meta"]  # the example trained it on digits with cnnlab.train
    assert meta["architecture"]["name"] == "tiny_cnn"
    assert meta["metrics"]["epochs_run"] == 3
    assert meta["metrics"]["test_accuracy"] > 0.3  # 10 classes: chance is 0.1
    model, saved = cnnlab.load(tmp_path / "runs" / "tiny")
    assert saved["architecture"]["width"] == 32
    rows, skipped = cnnlab.predict(tmp_path / "runs" / "tiny", cnnlab.load_dataset("digits", "test").images[:4])
    assert len(rows) == 4 and not skipped


@pytest.fixture
def augment_cleanup():
    yield
    if "invert" in augment_names():
        unregister_augment("invert")


def test_add_an_augmentation_step(augment_cleanup, tmp_path, monkeypatch):
    assert "invert" not in augment_names()
    ns = run(example("Add an augmentation step"), "Add an augmentation step", tmp_path, monkeypatch)
    assert "invert" in augment_names()
    assert ns["augment"].spec == "flip,invert@0.5"
    batch = ns["batch"]  # (8, 1, 28, 28) black images: each is now all black or all white
    assert batch.shape == (8, 1, 28, 28) and batch.dtype == torch.uint8
    per_image = batch.amax(dim=(1, 2, 3))
    assert torch.equal(per_image, batch.amin(dim=(1, 2, 3)))
    assert set(per_image.tolist()) == {0, 255}  # invert@0.5: some images inverted, some not
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4)
    assert torch.equal(parse_augment("invert")(x, seed=1), 255 - x)  # @1: every image
    RunConfig.build(augment="flip,invert@0.5").validate()  # a valid training option now


def test_add_a_data_source(tmp_path, monkeypatch):
    try:
        ns = run(example("Add a data source"), "Add a data source", tmp_path, monkeypatch)
        assert "stripes" in [row["name"] for row in list_sources()]
        train, test = ns["train"], cnnlab.load_dataset("stripes", "test")
        assert train.shape == (160, 1, 8, 8) and test.shape == (40, 1, 8, 8)
        assert train.classes == ["across", "down"] and train.class_counts() == [80, 80]
        across = train.images[train.labels == 0]  # (80, 1, 8, 8): rows 0, 2, 4, 6 white
        assert (across[:, :, 0::2, :] == 255).all() and (across[:, :, 1::2, :] == 0).all()
    finally:
        unregister_source("stripes")


def test_add_a_callback(tmp_path, monkeypatch, capsys):
    ns = run(example("Add a callback"), "Add a callback", tmp_path, monkeypatch)
    printed = [line for line in capsys.readouterr().out.splitlines() if "best val_acc so far" in line]
    assert [line.split(":")[0] for line in printed] == ["epoch 1", "epoch 2"]  # after_epoch fired twice
    assert ns["best"].best > 0.2  # it read real metrics (chance is 0.1)

    class Misspelt(ns["BestSoFar"]):
        def after_epcoh(self, trainer):
            pass

    with pytest.raises(ConfigError, match="did you mean 'after_epoch'"):
        ns["Trainer"](ns["model"], ns["train"], ns["val"], callbacks=[Misspelt()])


# ---------------------------------------------------------------- the other claims


def test_python_api_section_uses_only_the_public_api():
    code = "\n".join(blocks(section("Python API"), "python"))
    assert code and not re.search(r"(from|import) cnnlab\.", code)
    for name in set(re.findall(r"\bcnnlab\.(\w+)", code)):
        assert name in cnnlab.__all__, f"the README's Python API uses cnnlab.{name}, which is not public"


def test_run_json_example_is_a_valid_config():
    (text,) = blocks(section("Python API"), "json")
    cfg = RunConfig.build(json.loads(text)).validate()
    assert cfg.model.args == {"widths": [64, 128, 256], "hidden": 256} and cfg.training.epochs == 8


def test_trace_example_prints_what_the_readme_shows():
    (text,) = [b for b in blocks(section("Learn"), "python") if ">>>" in b]
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md (Learn)", "README.md", 0)
    result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test)
    assert result.attempted == 2 and result.failed == 0


def test_file_map_names_every_part_of_the_package():
    (tree,) = blocks(section("Where things are"), "")
    listed = {line.split()[0] for line in tree.splitlines() if line.strip()}
    src = ROOT / "src" / "cnnlab"
    parts = {p.name for p in src.glob("*.py") if not p.name.startswith("_") or p.name == "__init__.py"}
    parts |= {f"{p.name}/" for p in src.iterdir() if (p / "__init__.py").is_file()}
    parts |= {f"{p.parent.name}/{p.name}/" for p in src.glob("*/*") if (p / "__init__.py").is_file()}
    parts -= {"learn/ref/", "learn/explain/"}  # named inside the learn/ line
    assert parts - listed == set(), "add these to the README's file map"
    for top in ("lessons/", "bench/", "docs/", "tests/"):
        assert top in listed and (ROOT / top).is_dir()


def test_every_test_the_promises_table_names_exists():
    table = section("What cnnlab promises")
    named = 0
    for row in table.splitlines()[2:]:
        current = None
        for file, name in re.findall(r"`(test_\w+\.py)?(?:::(\w+))?`", row):
            if file:
                current = file
                assert (ROOT / "tests" / file).is_file(), f"tests/{file} does not exist"
            if name:
                assert current, f"::{name} follows no test file in: {row}"
                assert re.search(rf"^def {name}\(", (ROOT / "tests" / current).read_text(), re.M), \
                    f"tests/{current} has no {name}"
                named += 1
    assert named >= 20


def test_benchmark_summary_numbers_come_from_docs_benchmarks():
    table = section("Benchmarks")
    rows = [r for r in table.splitlines() if r.startswith("|")][2:]
    assert 5 <= len(rows) <= 8
    for row in rows:
        for cell in row.strip("|").split("|")[1:]:  # the measured columns, not the "what" column
            for number in re.findall(r"\d[\d,.]*\d|\d", cell):
                whole = rf"(?<![\d.,]){re.escape(number)}(?![\d]|[.,]\d)"  # 14.1 is not in "2.14.1"
                assert re.search(whole, BENCHMARKS), f"{number} (README benchmarks: {row}) is not in docs/benchmarks.md"
    assert "docs/benchmarks.md" in table
