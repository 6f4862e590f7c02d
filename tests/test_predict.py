"""Predict and evaluate share the run's input pipeline; run folders are checked at load time; answers carry notes.

Runs are written directly with save_model (random weights, no training), so each test is fast and
states exactly what model.json records.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shape_photo
from PIL import Image

import cnnlab
from cnnlab.data.images import convert_mode
from cnnlab.data.imageset import ImageSet
from cnnlab.deploy.evaluate import evaluate, load_test_split
from cnnlab.deploy.pipeline import prepare_image, prepare_images, run_logits
from cnnlab.deploy.predict import check_top_k, format_rows, predict, write_csv
from cnnlab.errors import ConfigError, RunError
from cnnlab.models import create_model
from cnnlab.training.report import write_report
from cnnlab.training.rundir import load_model, save_model


def make_run(out: Path, model: str, classes: list[str], channels: int, size: int, data: str, tta: bool = False,
             seed: int = 0, meta_classes: list[str] | None = None, meta_channels: int | None = None, **args) -> Path:
    """A run folder as cnnlab train writes it (model.safetensors + model.json), with random weights."""
    torch.manual_seed(seed)
    if model != "efficientnet_lite0":  # the pretrained backbone resizes inside the model instead
        args.setdefault("image_size", size)
    net = create_model(model, num_classes=len(classes), in_channels=channels, **args)
    save_model(out, net, {"architecture": net.cnnlab_config, "classes": meta_classes or classes,
                          "input": {"channels": meta_channels or channels, "size": [size, size]}, "data": data,
                          "training": {"tta": tta, "precision": "auto"}, "skipped_files": []})
    return out


@pytest.fixture
def split_folder(tmp_path):
    """photos/train/{bar,disc}/*.jpg and photos/test/{bar,disc}/*.jpg, colour photos of different sizes."""
    root = tmp_path / "photos"
    for split, n in (("train", 4), ("test", 5)):
        for kind in ("bar", "disc"):
            (root / split / kind).mkdir(parents=True)
            for i in range(n):
                seed = i + (100 if kind == "bar" else 0) + (50 if split == "test" else 0)
                shape_photo(kind, 40 + 9 * i, 30 + 6 * i, seed).save(root / split / kind / f"{i}.jpg", quality=90)
    return root


def _evaluate_probabilities(run: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """What evaluate computes per test image: probabilities (N, K) and labels (N,)."""
    model, meta = load_model(run)
    test = load_test_split(meta)
    x, _ = prepare_images(test.images, meta)
    return run_logits(model, x, meta).softmax(1), test.labels


def _predict_test_photos(run: Path, root: Path, k: int) -> list[dict]:
    rows, skipped = predict(run, [str(root / "test" / "bar"), str(root / "test" / "disc")], top_k=k)
    assert skipped == []
    return rows


def _assert_same(rows: list[dict], probs: torch.Tensor, classes: list[str]) -> None:
    assert len(rows) == len(probs)
    for row, p in zip(rows, probs, strict=True):
        got = dict(row["top"])
        assert row["top"][0][0] == classes[int(p.argmax())]
        # same pipeline, same batch, same precision: the same numbers
        np.testing.assert_allclose([got[c] for c in classes], p.numpy(), rtol=0, atol=1e-6)


# ---------------------------------------------------------------- one pipeline for predict and evaluate

def test_predict_scores_test_photos_as_evaluate_does_with_tta(split_folder, tmp_path):
    # a scratch run trained with flip augmentation is tested with flip TTA: predict must use it too
    run = make_run(tmp_path / "run", "lecture_cnn", ["bar", "disc"], 3, 32, f"folder:{split_folder}", tta=True,
                   image_size=32, widths=(8, 16), hidden=16)
    probs, labels = _evaluate_probabilities(run)
    rows = _predict_test_photos(run, split_folder, k=2)
    _assert_same(rows, probs, ["bar", "disc"])
    model, meta = load_model(run)
    x, _ = prepare_images(load_test_split(meta).images, meta)
    no_tta = run_logits(model, x, meta, tta=False).softmax(1)
    assert not torch.allclose(no_tta, probs, atol=1e-4)  # TTA changes the numbers, so the check above has teeth
    accuracy = np.mean([r["top"][0][0] == ["bar", "disc"][y] for r, y in zip(rows, labels.tolist(), strict=True)])
    assert evaluate(run, device="cpu")["test_accuracy"] == pytest.approx(accuracy)


def test_pretrained_backbone_run_is_fed_at_its_own_image_size(split_folder, tmp_path):
    # trained with --image-size 32: the photos were decoded at 32x32 and the model upsamples them to
    # its 64x64 input; predict once fed them at the backbone's input size instead
    run = make_run(tmp_path / "run", "efficientnet_lite0", ["bar", "disc"], 3, 32, f"folder:{split_folder}",
                   input_size=64)
    _, meta = load_model(run)
    chw, notes = prepare_image(split_folder / "test" / "disc" / "3.jpg", meta)
    assert chw.shape == (3, 32, 32) and "resized from 48x48 to 32x32" in notes
    probs, _ = _evaluate_probabilities(run)
    _assert_same(_predict_test_photos(run, split_folder, k=2), probs, ["bar", "disc"])


def test_a_batch_converts_channels_exactly_as_one_image_does():
    g = np.random.default_rng(0)
    batch = g.integers(0, 256, size=(6, 3, 8, 8), dtype=np.uint8)  # (N, C, H, W)
    meta = {"input": {"channels": 1, "size": [8, 8]}, "data": "digits"}
    x, notes = prepare_images(batch, meta)
    one = [convert_mode(im.transpose(1, 2, 0), "gray")[None] for im in batch]
    assert torch.equal(x, torch.from_numpy(np.stack(one))) and notes[0] == ["converted 3 channel(s) to 1"]
    y, _ = prepare_images(list(batch), meta)  # the same images one by one
    assert torch.equal(x, y)


def test_predict_accepts_arrays_tensors_and_one_image(tmp_path):
    run = make_run(tmp_path / "run", "mlp", [str(i) for i in range(10)], 1, 8, "digits", hidden=(16,))
    batch = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    rows, _ = predict(run, batch)
    assert [r["file"] for r in rows] == ["image 0", "image 1", "image 2", "image 3"]
    assert all(len(r["top"]) == 3 for r in rows)  # default: 3 classes
    one, _ = predict(run, batch[1, 0].numpy())  # (H, W)
    assert one[0]["top"] == rows[1]["top"]
    with pytest.raises(ConfigError) as e:
        predict(run, np.zeros((8, 8), np.float32))
    assert e.value.key == "images" and "uint8" in str(e.value)


# ---------------------------------------------------------------- run folders checked at load time

def test_model_json_listing_other_classes_than_the_weights_is_refused_at_load(tmp_path):
    run = make_run(tmp_path / "run", "mlp", ["a", "b"], 1, 8, "digits", meta_classes=["a", "b", "c"])
    with pytest.raises(RunError, match="lists 3 classes but the model gives 2 scores"):
        load_model(run)
    photo = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(photo)
    with pytest.raises(RunError, match="lists 3 classes"):  # not an IndexError in predict
        predict(run, [str(photo)])


def test_model_json_with_other_channels_than_the_first_layer_is_refused_at_load(tmp_path):
    run = make_run(tmp_path / "run", "lecture_cnn", ["a", "b"], 1, 8, "digits", meta_channels=3,
                   image_size=8, widths=(4,), hidden=8)
    with pytest.raises(RunError, match="takes 3-channel 8x8 images, but its first layers do not accept them"):
        load_model(run)


def test_weights_of_another_architecture_are_a_run_error(tmp_path):
    run = make_run(tmp_path / "run", "mlp", ["a", "b"], 1, 8, "digits")
    other = create_model("mlp", num_classes=5, in_channels=1, image_size=8)
    save_model(tmp_path / "other", other, {"architecture": other.cnnlab_config})
    os.replace(tmp_path / "other" / "model.safetensors", run / "model.safetensors")
    with pytest.raises(RunError, match="does not fit the architecture"):
        load_model(run)


def test_an_image_file_as_run_folder_says_what_the_first_argument_must_be(tmp_path):
    photo = tmp_path / "cat.jpg"
    shape_photo("disc", 40, 30, 0).save(photo)
    for run in (photo, tmp_path / "missing", tmp_path):  # a photo, a typo, a folder without a run
        with pytest.raises(RunError) as e:
            predict(str(run), [str(photo)])
        msg = str(e.value)
        assert "the first argument must be a run folder (made by cnnlab train --out DIR)" in msg
        assert "--model efficientnet_lite0" in msg and "train --out cat.jpg" not in msg
    with pytest.raises(RunError, match="is a file, not a run folder"):
        evaluate(photo, device="cpu")


def test_an_interrupted_run_says_how_to_finish_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "resume.json").write_text("{}")
    for call in (lambda: load_model(run), lambda: predict(run, np.zeros((8, 8), np.uint8)),
                 lambda: evaluate(run, device="cpu")):
        with pytest.raises(RunError, match=f"this run was interrupted.*cnnlab train --out {run} --resume"):
            call()


# ---------------------------------------------------------------- notes on conversions

def test_colour_photo_into_a_gray_28x28_model_carries_notes_and_a_warning(tmp_path):
    run = make_run(tmp_path / "run", "mlp", ["T-shirt", "Bag"], 1, 28, "fashion-mnist")
    photo = tmp_path / "photo.jpg"
    shape_photo("disc", 400, 300, 1).save(photo)
    rows, _ = predict(run, [str(photo)])
    notes = rows[0]["notes"]
    assert notes[:3] == ["converted from RGB to gray", "cropped the centre 300x300 of 400x300",
                         "resized from 300x300 to 28x28"]
    assert notes[3].startswith("warning: the model was trained on gray 28x28 images from fashion-mnist "
                               "and has never seen images like this one")
    assert "colour" in notes[3] and "shrunk 11 times" in notes[3]
    assert "warning: the model was trained on gray 28x28" in format_rows(rows)
    # an image like the training data: no notes at all
    gray = tmp_path / "item.png"
    Image.new("L", (28, 28), 90).save(gray)
    assert predict(run, [str(gray)])[0][0]["notes"] == []


def test_size_warnings_depend_on_what_the_model_was_trained_on():
    gray_big = np.full((280, 280), 50, np.uint8)
    fm = {"input": {"channels": 1, "size": [28, 28]}, "data": "fashion-mnist"}
    folder = {"input": {"channels": 1, "size": [28, 28]}, "data": "folder:photos"}
    assert prepare_image(gray_big, fm)[1][-1].startswith("warning:")  # 28x28 items never came from big photos
    assert prepare_image(gray_big, folder)[1] == ["resized from 280x280 to 28x28"]  # photos were shrunk in training
    rgb_model = {"input": {"channels": 3, "size": [64, 64]}, "data": "folder:photos"}
    tiny = prepare_image(np.zeros((8, 8), np.uint8), rgb_model)[1]
    assert "copied the gray image into 3 colour channels" in tiny and "enlarged 8 times" in tiny[-1]
    # an RGB file holding a gray picture is converted, but is no colour photo: no warning
    assert not any(n.startswith("warning") for n in prepare_image(np.full((28, 28, 3), 7, np.uint8), fm)[1])


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("bad", [0, -1, 11, 1.5, True, "3"])
def test_top_k_must_be_between_1_and_the_class_count(bad, tmp_path):
    with pytest.raises(ConfigError) as e:
        check_top_k(bad, 10)
    assert e.value.key == "top_k" and "from 1 to 10" in str(e.value)
    run = make_run(tmp_path / "run", "mlp", [str(i) for i in range(10)], 1, 8, "digits")
    with pytest.raises(ConfigError):
        predict(run, np.zeros((8, 8), np.uint8), top_k=bad)


def test_default_top_k_is_three_or_every_class_when_fewer(tmp_path):
    assert check_top_k(None, 10) == 3 and check_top_k(None, 2) == 2 and check_top_k(10, 10) == 10
    run = make_run(tmp_path / "run", "mlp", ["a", "b"], 1, 8, "digits")
    assert len(predict(run, np.zeros((8, 8), np.uint8))[0][0]["top"]) == 2


def test_csv_to_a_folder_is_refused_and_nothing_is_written(tmp_path):
    rows = [{"file": "a.png", "top": [("cat", 0.5)], "notes": []}]
    before = sorted(os.listdir(tmp_path))
    for target in (tmp_path, f"{tmp_path}/", f"{tmp_path}/new-folder/", "/"):
        with pytest.raises(ConfigError) as e:
            write_csv(rows, target)
        assert e.value.key == "csv" and "not a folder" in str(e.value)
    assert sorted(os.listdir(tmp_path)) == before


def test_csv_is_written_atomically_next_to_the_target(tmp_path, monkeypatch):
    target = tmp_path / "out" / "p.csv"
    write_csv([{"file": "a.png", "top": [("cat", 0.5)]}], target)
    assert target.read_text().splitlines() == ["file,class1,prob1", "a.png,cat,0.500000"]
    renamed = []

    def failing_replace(src, dst):
        renamed.append(Path(src))
        raise OSError("disk full")

    monkeypatch.setattr("cnnlab.files.os.replace", failing_replace)
    with pytest.raises(OSError):
        write_csv([{"file": "b.png", "top": [("dog", 0.9)]}], target)
    assert renamed[0].parent == target.parent  # the temporary file sits next to the target
    assert target.read_text().splitlines()[1] == "a.png,cat,0.500000"  # the old file is intact
    assert sorted(p.name for p in target.parent.iterdir()) == ["p.csv"]  # no temporary file left


# ---------------------------------------------------------------- unreadable files

def test_unreadable_files_come_back_with_their_reasons(tmp_path):
    run = make_run(tmp_path / "run", "mlp", ["a", "b"], 1, 8, "digits")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("L", (8, 8)).save(photos / "good.png")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (photos / "empty.jpg").write_bytes(b"")
    rows, skipped = predict(run, [str(photos)])
    assert [r["file"] for r in rows] == [str(photos / "good.png")]
    reasons = dict(skipped)
    assert "cannot decode" in reasons[str(photos / "broken.png")] and "empty" in reasons[str(photos / "empty.jpg")]


def test_report_lists_skipped_files_with_their_reasons(tmp_path):
    test = ImageSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]), ["a", "b"],
                    skipped=[("p/b/bad.jpg", "p/b/bad.jpg: cannot decode the image (truncated)")])
    meta = {"metrics": {"test_accuracy": 0.5, "test_loss": 0.7, "train_seconds": 1.0, "epochs_run": 1},
            "architecture": {"name": "mlp"}, "data": "folder:p", "device": "cpu", "precision": "float32",
            "sizes": {"train": 8, "val": 0, "test": 4}, "parameters": 10, "augment": None,
            "skipped_files": [{"file": "p/a/empty.png", "reason": "p/a/empty.png: the file is empty (0 bytes)"},
                              "p/b/bad.jpg"]}
    result = {"predictions": torch.tensor([0, 0, 0, 1]), "probabilities": torch.full((4, 2), 0.5)}
    text = write_report(tmp_path, meta, [], test, result).read_text()
    assert "## Files that could not be read" in text
    assert "| `p/a/empty.png` | the file is empty (0 bytes) |" in text
    assert "| `p/b/bad.jpg` | cannot decode the image (truncated) |" in text
    clean = dict(meta, skipped_files=[])
    assert "could not be read" not in write_report(tmp_path, clean, [], ImageSet(test.images, test.labels, ["a", "b"]),
                                                   result).read_text()


def test_fit_pad_trains_on_whole_photos_and_predict_pads_them_too(photo_folder, tmp_path):
    # the studio's "whole image" choice: before, there was no fit option and every run cropped
    meta = cnnlab.train({"data": f"folder:{photo_folder}", "fit": "pad", "image_size": 32, "epochs": 1,
                         "model_args": {"widths": [8, 16], "hidden": 16}}, out=tmp_path / "run", progress=False)
    assert meta["input"]["fit"] == "pad"
    rows, _ = cnnlab.predict(tmp_path / "run", str(photo_folder / "bar" / "23.jpg"))
    assert any("padded with black" in n for n in rows[0]["notes"])
    with pytest.raises(ConfigError, match="fit='stretch': expected crop for this data set"):
        cnnlab.RunConfig.build(data="digits", fit="stretch").validate()
