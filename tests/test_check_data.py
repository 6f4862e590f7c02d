"""cnnlab check: planted problems of each kind are found, a clean folder gives none, splits match training."""

import collections
import functools
import io
import itertools
import json

import numpy as np
import pytest
from PIL import Image

import cnnlab
from cnnlab.cli import main
from cnnlab.data.check import check_data, class_findings, folder_spec, format_report, summary_notes
from cnnlab.data.images import to_hwc
from cnnlab.data.imageset import ImageSet
from cnnlab.data.phash import NEAR_BITS, distance, near_pairs, phash, pixel_hash
from cnnlab.data.scan import folder_items
from cnnlab.data.sources import register_source, unregister_source
from cnnlab.data.splits import load_splits
from cnnlab.errors import DataError


@functools.lru_cache(1)
def tiles() -> list[np.ndarray]:
    """49 different 128x96 pieces of scikit-image's photos (flat pieces left out)."""
    from skimage import data

    found = []
    for a in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()):
        for y, x in itertools.product(range(0, a.shape[0] - 95, 96), range(0, a.shape[1] - 127, 128)):
            if a[y:y + 96, x:x + 128].std() > 30:
                found.append(a[y:y + 96, x:x + 128])
    return found


def photo(i: int, size=(64, 48), mode="RGB") -> Image.Image:
    """Photo number ``i`` (a piece of a real photo: random colour patterns hash far less steadily than photos)."""
    return Image.fromarray(tiles()[i % len(tiles())]).resize(size, Image.BILINEAR).convert(mode)


def save(img: Image.Image, path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)


def resaved(img: Image.Image) -> Image.Image:
    """A near copy: three-quarter size, saved as JPEG quality 80, read back."""
    buf = io.BytesIO()
    img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.BILINEAR).save(buf, "JPEG", quality=80)
    return Image.open(io.BytesIO(buf.getvalue()))


@pytest.fixture
def planted(tmp_path):
    """train/ and test/ folders with one planted problem of each kind (no validation split: val_fraction=0)."""
    root = tmp_path / "planted"
    for i in range(12):
        save(photo(i), root / f"train/cat/c{i}.png")
    for i in range(12, 20):
        save(photo(i), root / f"train/dog/d{i}.png")
    for i in range(20, 26):
        save(photo(i), root / f"test/{'cat' if i < 23 else 'dog'}/t{i}.png")
    save(photo(0), root / "train/cat/c0_copy.bmp")  # same pixels, another format: an exact copy
    save(resaved(photo(1)), root / "train/cat/c1_small.jpg")  # a near copy in the same class
    save(photo(2), root / "train/dog/c2.png")  # the same image in two classes
    save(resaved(photo(5)), root / "train/dog/c5_small.jpg")  # a near copy in another class
    save(photo(3), root / "test/cat/c3.png")  # the same image in train and test
    save(resaved(photo(4)), root / "test/cat/c4.jpg")  # a near copy in train and test
    save(photo(90, (10, 10)), root / "train/cat/tiny.png")
    save(photo(91, mode="L"), root / "train/dog/gray.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    save(photo(92), root / "train/dog/turned.jpg", exif=exif)
    buf = io.BytesIO()
    photo(93).save(buf, "JPEG")
    (root / "train/cat/broken.jpg").write_bytes(buf.getvalue()[:300])  # a truncated JPEG
    return root


def by_kind(report):
    return {(f["kind"], f["level"], f.get("match")): f for f in report["findings"]}


def test_every_planted_problem_is_found_with_its_files(planted):
    report = check_data(str(planted), val_fraction=0, progress=False)
    found = by_kind(report)
    groups = lambda key: sorted(sorted(g) for g in found[key]["groups"])  # noqa: E731
    assert found[("unreadable", "warning", None)]["files"] == ["train/cat/broken.jpg"]
    assert groups(("duplicates", "warning", "exact")) == [["train/cat/c0.png", "train/cat/c0_copy.bmp"]]
    assert groups(("duplicates", "info", "near")) == [["train/cat/c1.png", "train/cat/c1_small.jpg"]]
    assert groups(("conflicting_labels", "error", "exact")) == [["train/cat/c2.png", "train/dog/c2.png"]]
    assert groups(("conflicting_labels", "warning", "near")) == [["train/cat/c5.png", "train/dog/c5_small.jpg"]]
    assert groups(("leakage", "error", "exact")) == [["test/cat/c3.png", "train/cat/c3.png"]]
    assert groups(("leakage", "warning", "near")) == [["test/cat/c4.jpg", "train/cat/c4.png"]]
    assert found[("tiny", "warning", None)]["files"] == ["train/cat/tiny.png"]
    assert found[("gray_and_colour", "warning", None)]["files"] == ["train/dog/gray.png"]
    assert found[("exif_rotated", "info", None)]["files"] == ["train/dog/turned.jpg"]
    assert len(report["findings"]) == 10  # nothing else: no false alarms among the other photos
    assert (report["errors"], report["warnings"], report["infos"]) == (2, 6, 2)
    assert "in two classes at once (1 in 'cat' and 'dog')" in found[("conflicting_labels", "error", "exact")]["message"]
    assert "1 in train and test" in found[("leakage", "error", "exact")]["message"]
    assert "10x10 pixels" in found[("tiny", "warning", None)]["message"]
    assert "1 in 'dog'" in found[("gray_and_colour", "warning", None)]["message"]
    assert [f["level"] for f in report["findings"]] == sorted((f["level"] for f in report["findings"]),
                                                              key=["error", "warning", "info"].index)


def test_a_clean_folder_gives_no_findings(tmp_path):
    for i in range(12):
        save(photo(i), tmp_path / "clean" / ("cat" if i % 2 else "dog") / f"{i}.png")
    report = check_data(f"folder:{tmp_path / 'clean'}", progress=False)
    assert report["findings"] == [] and report["notes"] == []
    assert report["readable"] == report["files"] == 12
    assert format_report(report).endswith("no problems found")
    assert summary_notes(report)[0].startswith("data check of folder:")


def test_a_ten_to_one_imbalance_is_a_warning(tmp_path):
    for i in range(33):
        save(photo(i, (8, 8)), tmp_path / "p" / ("cat" if i < 30 else "dog") / f"{i}.png")
    found = by_kind(check_data(str(tmp_path / "p"), progress=False))
    assert "'cat' has 30 images but 'dog' only 3 (10.0 times fewer)" in found[("imbalance", "warning", None)]["message"]
    assert ("too_few", "warning", None) in found
    assert class_findings({"a": 30, "b": 10}) == []  # 3:1 is still fine


def test_the_held_out_splits_are_those_training_uses(tmp_path):
    root = tmp_path / "held"
    for i in range(40):
        save(photo(i, (64, 64)), root / ("cat" if i % 3 else "dog") / f"{i}.png")  # 64: decoded as they are
        if i % 4 == 0:
            save(photo(i, (64, 64)), root / ("cat" if i % 3 else "dog") / f"{i}_again.bmp")  # some across splits
    train, val, test = load_splits(f"folder:{root}", val_fraction=0.2, seed=7, image_size=64)
    items, _, layout = folder_items(root, seed=7, val_fraction=0.2, progress=False)
    assert "held out" in layout
    for split, data in (("train", train), ("val", val), ("test", test)):
        trained = sorted(pixel_hash(to_hwc(x)) for x in data.images.numpy())
        assert sorted(it.pixels for it in items if it.split == split) == trained
    report = check_data(str(root), seed=7, val_fraction=0.2, progress=False)
    split_of = {it.name: it.split for it in items}
    straddling = sorted(sorted([n, n.replace("_again.bmp", ".png")]) for n in split_of
                        if n.endswith("_again.bmp") and split_of[n] != split_of[n.replace("_again.bmp", ".png")])
    assert straddling, "some planted copies should land in different splits for seed 7"
    leaks = [f for f in report["findings"] if f["kind"] == "leakage"]
    assert sorted(sorted(g) for g in leaks[0]["groups"]) == straddling


def test_near_copies_of_real_photos_are_near_and_other_photos_are_not():
    from skimage import data

    cat = Image.fromarray(data.chelsea())
    for copy in (resaved(cat), cat.resize((113, 75)), cat.convert("L")):
        assert distance(phash(np.asarray(cat)), phash(np.asarray(copy))) <= NEAR_BITS
    others = [data.astronaut(), data.coffee(), data.rocket(), data.camera()]
    assert all(distance(phash(np.asarray(cat)), phash(o)) > NEAR_BITS for o in others)


def test_near_pairs_equals_comparing_every_pair():
    hashes = np.random.default_rng(0).integers(0, 2**63, 300, dtype=np.uint64)
    hashes[7] = hashes[3] ^ np.uint64(0b101)  # 2 bits apart
    brute = [(i, j) for i in range(300) for j in range(i + 1, 300)
             if distance(int(hashes[i]), int(hashes[j])) <= 20]
    assert near_pairs(hashes, 20, cells=1000) == brute and (3, 7) in brute


def test_a_built_in_set_is_checked_as_arrays():
    report = check_data("digits")
    assert report["errors"] == 0 and "arrays, not files" in report["notes"][0]
    assert sum(report["counts"]["test"]) == 359

    @register_source("twins", hold_out=True)
    def twins():
        images = np.zeros((20, 1, 8, 8), np.uint8)
        images[:, 0, 0, 0] = np.arange(20)
        images[19] = images[0]  # image 0 (class 0) again, as class 1
        return ImageSet(images, np.arange(20) % 2, ["a", "b"], source="twins")

    try:
        found = by_kind(check_data("twins"))
    finally:
        unregister_source("twins")
    assert "in two classes at once (1 in 'a' and 'b')" in found[("conflicting_labels", "error", "exact")]["message"]


def test_a_bare_folder_path_is_a_folder_spec(tmp_path):
    assert folder_spec(str(tmp_path)) == f"folder:{tmp_path}"
    assert folder_spec("digits") == "digits" and folder_spec("folder:no/such/dir") == "folder:no/such/dir"
    with pytest.raises(DataError, match="no/such/dir: no such folder or data set"):
        folder_spec("no/such/dir")


def test_the_command_prints_a_report_and_exits_3_on_errors(planted, tmp_path, capsys):
    assert main(["check", str(planted), "--val", "0"]) == 3
    out = capsys.readouterr().out
    assert "error   conflicting_labels:" in out and "train/cat/c2.png = train/dog/c2.png" in out
    assert out.rstrip().endswith("2 errors, 6 warnings, 2 infos")
    for i in range(10):
        save(photo(i), tmp_path / "ok" / ("a" if i % 2 else "b") / f"{i}.png")
    assert main(["check", f"folder:{tmp_path / 'ok'}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and report["classes"] == ["a", "b"]
    assert main(["check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing: no such folder or data set" in err and "--data" not in err and err.count("\n") == 1


class Enough(Exception):
    """Stops a training run once it has started its first epoch."""


def test_training_on_a_folder_prints_the_check_first(planted, tmp_path):
    notes = []

    def on_event(e):
        if e["event"] == "note":
            notes.append(e["text"])
        if e["event"] == "epoch_begin":
            raise Enough

    with pytest.raises(Enough):
        cnnlab.train(data=f"folder:{planted}", out=tmp_path / "r", epochs=1, image_size=16, progress=False,
                     model_args={"widths": [8]}, on_event=on_event)
    assert any(n.startswith(f"data check of folder:{planted}: 2 errors") for n in notes), notes
    assert any(n.startswith("error: 1 image is in two classes at once") for n in notes)


@pytest.fixture
def opened(monkeypatch):
    """Counts how often each file is opened by Pillow (every decoding opens the file)."""
    counts = collections.Counter()
    real = Image.open

    def counting(fp, *args, **kwargs):
        counts[str(fp)] += 1
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting)
    return counts


def test_a_training_run_on_a_folder_decodes_each_photo_once(tmp_path, opened):
    root = tmp_path / "photos"
    for i in range(24):  # 128x96 JPEGs at image_size 32: decoded at half scale (draft mode), PNGs at full size
        save(photo(i, (128, 96)), root / ("cat" if i % 2 else "dog") / f"{i}.{'jpg' if i % 3 else 'png'}")
    opened.clear()  # making the photos read scikit-image's
    notes = []
    cnnlab.train(data=f"folder:{root}", out=tmp_path / "r", epochs=1, image_size=32, progress=False,
                 model_args={"widths": [8], "hidden": 8},
                 on_event=lambda e: notes.append(e["text"]) if e["event"] == "note" else None)
    photos = sorted(str(p) for p in root.rglob("*.*"))
    assert sorted(opened) == photos  # every photo was read, nothing else...
    assert set(opened.values()) == {1}, opened  # ... and each exactly once: the check used the cache's facts
    assert any(n.startswith(f"data check of folder:{root}: no problems found") for n in notes), notes


def test_the_check_from_a_training_cache_finds_what_a_fresh_check_finds(planted, opened):
    fresh = check_data(f"folder:{planted}", val_fraction=0, progress=False)
    load_splits(f"folder:{planted}", val_fraction=0, image_size=16)  # fills the cache: JPEGs at reduced scale
    opened.clear()
    cached = check_data(f"folder:{planted}", val_fraction=0, progress=False, cache={"image_size": 16})
    assert cached["findings"] == fresh["findings"] and cached["counts"] == fresh["counts"]
    # decoded again, at full size: only the JPEGs decoded at reduced scale that look like another image, and one
    # too small at that scale for a pHash (64x48 at half scale)
    again = sorted(p.split("planted/")[1] for p in opened)
    assert again == ["test/cat/c4.jpg", "train/cat/c1_small.jpg", "train/dog/c5_small.jpg", "train/dog/turned.jpg"]
