import gzip
import struct

import numpy as np
import pytest
import torch

from cnnlab.data import fashion_mnist
from cnnlab.data import sources as datasets
from cnnlab.data.folder import decode_folder
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import (
    DataError,
    describe_datasets,
    list_sources,
    load_dataset,
    read_idx,
    register_source,
    unregister_source,
)
from cnnlab.errors import ConfigError


def idx_bytes(arr: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def test_read_idx_roundtrip_and_errors():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(idx_bytes(a)), a)
    with pytest.raises(DataError, match="magic"):
        read_idx(b"\x01\x02\x08\x01")
    with pytest.raises(DataError, match="truncated"):
        read_idx(idx_bytes(a)[:-5])
    with pytest.raises(DataError, match="magic"):  # an unknown type byte was a KeyError
        read_idx(b"\x00\x00\x42\x01" + bytes(8))
    with pytest.raises(DataError, match="header"):  # a cut header was a struct.error
        read_idx(b"\x00\x00\x08\x03\x00\x00")


def test_fashion_mnist_loads_with_checksums():
    train = load_dataset("fashion-mnist", "train")
    test = load_dataset("fashion-mnist", "test")
    assert train.shape == (60000, 1, 28, 28) and test.shape == (10000, 1, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.class_counts() == [6000] * 10 and train.classes[9] == "Ankle boot"


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "nowhere")
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
    with pytest.raises(ConfigError, match="fashion-mnist, digits, folder:PATH, synthetic") as e:
        load_dataset("cifar")
    assert e.value.key == "data"


def test_misspelt_spec_says_did_you_mean():
    with pytest.raises(ConfigError) as e:
        load_dataset("fashion-mnst")
    assert e.value.key == "data" and str(e.value).endswith("did you mean 'fashion-mnist'?")
    with pytest.raises(ConfigError, match="did you mean 'synthetic'"):
        load_dataset("synthetc", "train")


def test_a_folder_path_without_folder_prefix_gets_the_fix(photo_folder):
    with pytest.raises(ConfigError, match=f"write 'folder:{photo_folder}'"):
        load_dataset(str(photo_folder))


@pytest.mark.parametrize("spec, words", [("folder", "folder:PATH, with the path after the colon"),
                                         ("digits:8x8", "nothing after a colon")])
def test_spec_arguments_are_checked(spec, words):
    with pytest.raises(ConfigError, match=words):
        load_dataset(spec)


def test_registered_source_is_everywhere_and_twice_warns():
    @register_source("checker", about="two checkerboards", hold_out=True)
    def checker(n: int = 20):
        labels = np.arange(n) % 2
        images = np.zeros((n, 1, 4, 4), np.uint8)
        images[labels == 1, :, ::2, ::2] = 255
        return ImageSet(images, labels, ["plain", "checked"], source="checker")

    try:
        assert load_dataset("checker", "test", n=30).class_counts() == [3, 3]
        row = [r for r in list_sources() if r["name"] == "checker"][0]
        assert row == {"name": "checker", "form": "checker", "about": "two checkerboards", "present": True,
                       "where": "", "options": ["n"]}
        with pytest.raises(ConfigError, match="did you mean 'checker'"):  # unknown-name errors read the registry
            load_dataset("chekcer")
        with pytest.raises(ConfigError) as e:  # an option the loader does not take is refused, not dropped
            load_dataset("checker", "train", image_size=8)
        assert e.value.key == "image_size" and "accepts: n" in str(e.value)
        with pytest.warns(UserWarning, match="registered again"):
            register_source("checker", checker, about="again", hold_out=True)
    finally:
        unregister_source("checker")
    assert "checker" not in [r["name"] for r in list_sources()]


def test_a_loader_that_returns_no_imageset_is_named():
    register_source("broken", lambda split: [1, 2, 3])
    try:
        with pytest.raises(DataError, match="'broken' returned list"):
            load_dataset("broken", "train")
    finally:
        unregister_source("broken")


def test_sources_rows_for_the_datasets_command(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "nowhere")
    rows = {r["form"]: r for r in list_sources()}
    assert list(rows)[:4] == ["fashion-mnist", "digits", "folder:PATH", "synthetic"]
    assert rows["fashion-mnist"]["present"] is False and "apt-get" in rows["fashion-mnist"]["where"]
    assert rows["folder:PATH"]["options"] == ["image_size", "channels", "fit", "progress", "use_cache"]
    old = describe_datasets()  # the older keys, for code written against cnnlab 0.1
    assert old[2]["spec"] == "folder:PATH" and set(old[0]) == {"spec", "present", "source", "about"}


def test_fashion_mnist_has_no_val_split():
    with pytest.raises(ConfigError) as e:
        load_dataset("fashion-mnist", "val")
    assert e.value.key == "split" and "train, test" in str(e.value)


def test_imageset_refuses_wrong_arrays_with_a_data_error():
    with pytest.raises(DataError, match="uint8"):
        ImageSet(np.zeros((2, 1, 4, 4), np.float32), [0, 1], ["a", "b"])
    with pytest.raises(DataError, match="0..1"):
        ImageSet(np.zeros((2, 1, 4, 4), np.uint8), [0, 2], ["a", "b"])


@pytest.mark.parametrize("option, value", [("n", 1), ("image_size", 2), ("channels", 2), ("num_classes", 9)])
def test_synthetic_options_are_checked(option, value):
    with pytest.raises(ConfigError) as e:
        datasets.make_synthetic(**{option: value})
    assert e.value.key == option


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
