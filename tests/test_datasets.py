import gzip
import struct

import numpy as np
import pytest
import torch

from cnnlab.data import sources as datasets
from cnnlab.data.folder import decode_folder
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import DataError, load_dataset, read_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_read_idx_roundtrip_and_errors():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(idx_bytes(a)), a)
    with pytest.raises(DataError, match="magic"):
        read_idx(b"\x01\x02\x08\x01")
    with pytest.raises(DataError, match="truncated"):
        read_idx(idx_bytes(a)[:-5])


def test_fashion_mnist_loads_with_checksums():
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    assert train.shape == (60000, 1, 28, 28) and test.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.class_counts() == [6000] * 10 and train.classes[9] == "Ankle boot"


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "DEBIAN_DIR", tmp_path / "nowhere")
    with pytest.raises(DataError) as e:
        load_dataset("fashion-mnist")
    msg = str(e.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "cnnlab datasets --fetch" in msg


def test_fashion_mnist_corrupt_cache_file_is_detected(tmp_path, monkeypatch):
    d = datasets.cache_dir() / "fashion-mnist"
    d.mkdir(parents=True)
    for name in datasets.FASHION_FILES:
        (d / name).write_bytes(gzip.compress(idx_bytes(np.zeros((3, 2, 2), np.uint8))))
    with pytest.raises(DataError, match="checksum"):
        load_dataset("fashion-mnist")


def test_digits_and_synthetic_splits_are_stratified_and_disjoint():
    tr, te = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert len(tr) + len(te) == 1797 and tr.shape[1:] == (1, 8, 8)
    assert int(tr.images.max()) > 200  # scaled from 0..16 to 0..255
    counts = np.array(te.class_counts()) / np.array(tr.class_counts())
    assert np.all(np.abs(counts - 0.25) < 0.05)
    s = load_dataset("synthetic", "train", n=60, image_size=12, channels=3)
    assert s.shape[1:] == (3, 12, 12) and len(s.classes) == 3


def test_split_and_per_class():
    data = datasets.make_synthetic(n=100, num_classes=4)
    a, b = data.split(0.2, seed=1)
    assert len(a) + len(b) == 100 and b.class_counts() == [5, 5, 5, 5]
    assert data.split(0.2, seed=1)[1].labels.tolist() == b.labels.tolist()
    few = data.per_class(3, seed=0)
    assert few.class_counts() == [3, 3, 3, 3]
    one = ImageSet(data.images[:3], torch.tensor([0, 0, 1]), ["a", "b"])
    tr, va = one.split(0.5)
    assert tr.class_counts()[1] == 1  # a one-image class stays in training


def test_unknown_spec_lists_known():
    with pytest.raises(DataError, match="fashion-mnist, digits, folder:PATH, synthetic"):
        load_dataset("cifar")


def test_folder_decodes_resizes_and_caches(photo_folder, monkeypatch):
    train = load_dataset(f"folder:{photo_folder}", "train", image_size=32, progress=False)
    test = load_dataset(f"folder:{photo_folder}", "test", image_size=32, progress=False)
    assert train.shape[1:] == (3, 32, 32) and train.classes == ["bar", "disc"]
    assert len(train) + len(test) == 48 and test.class_counts() == [5, 5]
    # second run: served from the cache without decoding anything
    import cnnlab.data.folder as folder

    monkeypatch.setattr(folder, "load_image", lambda p: (_ for _ in ()).throw(AssertionError("decoded again")))
    again = load_dataset(f"folder:{photo_folder}", "train", image_size=32, progress=False)
    assert torch.equal(again.images, train.images)


def test_folder_cache_notices_changed_content(photo_folder):
    a = decode_folder(photo_folder, 16, progress=False)[0]
    victim = sorted((photo_folder / "disc").iterdir())[0]
    from PIL import Image

    Image.new("RGB", (30, 30), (0, 255, 0)).save(victim)
    b = decode_folder(photo_folder, 16, progress=False)[0]
    assert not np.array_equal(a, b)


def test_folder_skips_and_lists_unreadable_files(photo_folder):
    (photo_folder / "disc" / "zero.jpg").write_bytes(b"")
    (photo_folder / "disc" / "text.jpg").write_text("not a photo")
    (photo_folder / "bar" / "page.png").write_text("<html></html>")
    good = (photo_folder / "bar" / "0.jpg").read_bytes()
    (photo_folder / "bar" / "cut.jpg").write_bytes(good[: len(good) // 3])
    images, labels, classes, skipped = decode_folder(photo_folder, 16, progress=False)
    names = sorted(p.split("/")[-1] for p, _ in skipped)
    assert names == ["cut.jpg", "page.png", "text.jpg", "zero.jpg"]
    assert len(images) == 48


def test_folder_errors(tmp_path, photo_folder):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    (photo_folder / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_dataset(f"folder:{photo_folder}", progress=False)
    (photo_folder / "empty").rmdir()
    (photo_folder / "junk").mkdir()
    (photo_folder / "junk" / "a.jpg").write_text("x")
    with pytest.raises(DataError, match="no readable images"):
        load_dataset(f"folder:{photo_folder}", progress=False)


def test_folder_one_image_class_and_gray(tmp_path):
    from PIL import Image

    for cls, n in (("many", 6), ("single", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.new("L", (20 + i, 20), 40 * i).save(tmp_path / cls / f"{i}.png")
    tr = load_dataset(f"folder:{tmp_path}", "train", image_size=8, progress=False)
    assert tr.channels == 1 and tr.class_counts()[1] == 1
