"""Photo folder layouts: split folders, system folders, class checks before decoding, memory, notes."""

import numpy as np
import pytest
from PIL import Image

import cnnlab.data.folder as folder
from cnnlab.data.folder import folder_splits, load_folder
from cnnlab.data.imageset import merge_skipped
from cnnlab.data.layout import folder_layout
from cnnlab.data.sources import load_dataset, source_splits
from cnnlab.errors import ConfigError, DataError


def make_tree(root, tree: dict, size=(20, 16)):
    """tree: {"train/cat": 4, "val/cat": 2, ...} -> that many small PNGs in each folder."""
    for sub, n in tree.items():
        d = root / sub
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shade = (37 * i + 11 * len(sub)) % 256
            Image.new("RGB", size, (shade, 255 - shade, 90)).save(d / f"{i}.png")
    return root


def no_decoding(monkeypatch):
    """Fail the test if any photo is decoded."""
    def boom(*args, **kwargs):
        raise AssertionError("a photo was decoded")

    monkeypatch.setattr(folder, "load_image", boom)


@pytest.mark.parametrize("val_name", ["val", "valid", "validation", "Val"])
def test_train_val_is_a_split_layout_not_two_classes(tmp_path, val_name):
    root = make_tree(tmp_path / "photos", {"train/cat": 6, "train/dog": 6, f"{val_name}/cat": 2, f"{val_name}/dog": 3})
    spec = f"folder:{root}"
    train = load_dataset(spec, "train", image_size=8, progress=False)
    assert train.classes == ["cat", "dog"]  # not ["train", "val"]
    assert folder_splits(root) == ["train", "val", "test"] == source_splits(spec)
    val = load_dataset(spec, "val", image_size=8, progress=False)
    assert val.classes == ["cat", "dog"] and val.class_counts() == [2, 3]
    test = load_dataset(spec, "test", image_size=8, progress=False)  # no test/: 20% of train/ held out
    assert len(train) + len(test) == 12 and test.class_counts() == [1, 1]


def test_train_val_test_layout_uses_each_folder(tmp_path):
    root = make_tree(tmp_path / "p", {"train/a": 5, "train/b": 5, "val/a": 2, "val/b": 2, "test/a": 3, "test/b": 1})
    assert folder_splits(root) == ["train", "val", "test"]
    assert folder_layout(root).describe() == "train/ and val/ and test/"
    sizes = {s: load_folder(root, s, image_size=8, progress=False).class_counts() for s in ("train", "val", "test")}
    assert sizes == {"train": [5, 5], "val": [2, 2], "test": [3, 1]}


def test_train_test_layout_has_no_val_split(tmp_path):
    root = make_tree(tmp_path / "p", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1})
    assert folder_splits(root) == ["train", "test"]
    with pytest.raises(ConfigError) as e:
        load_dataset(f"folder:{root}", "val", image_size=8)
    assert e.value.key == "split" and "train, test" in str(e.value)


def test_system_folders_and_files_are_never_classes_or_images(tmp_path):
    root = make_tree(tmp_path / "p", {"cat": 3, "dog": 3, "__MACOSX/cat": 2, "cat/@eaDir": 1, ".thumbnails": 1})
    (root / "cat" / "Thumbs.db").write_bytes(b"\x00" * 64)
    (root / "dog" / ".DS_Store").write_bytes(b"\x00" * 64)
    (root / "dog" / "desktop.ini").write_text("[.ShellClassInfo]")
    train = load_dataset(f"folder:{root}", "train", image_size=8, progress=False)
    test = load_dataset(f"folder:{root}", "test", image_size=8, progress=False)
    assert train.classes == ["cat", "dog"]
    assert len(train) + len(test) == 6  # @eaDir's thumbnail is not a cat photo
    assert train.skipped == []  # Thumbs.db, desktop.ini are not "unreadable photos"


def test_a_studio_projects_runs_folder_is_not_a_class(tmp_path):
    # a studio project: one folder per class + project.json + runs/ (whose curves.png are images too)
    root = make_tree(tmp_path / "project", {"cat": 4, "dog": 4, "runs/2026-run/figures": 2})
    assert load_dataset(f"folder:{root}", "train", image_size=8, progress=False).classes == ["cat", "dog", "runs"]
    (root / "project.json").write_text('{"format": 1}')
    assert load_dataset(f"folder:{root}", "train", image_size=8, progress=False).classes == ["cat", "dog"]


def test_class_names_that_differ_are_refused_before_decoding(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p", {"train/Chat noir": 2, "train/chien": 2, "test/chat noir": 1, "test/chien": 1})
    no_decoding(monkeypatch)
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{root}", "train", image_size=8, progress=False)
    msg = str(e.value)
    assert "only in train/: 'Chat noir'" in msg and "only in test/: 'chat noir'" in msg
    assert "capital letters" in msg


def test_class_count_mismatch_lists_every_difference(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p", {"train/a": 2, "train/b": 2, "train/c": 2, "test/a": 1, "test/b": 1,
                                      "val/a": 1, "val/b": 1, "val/c": 1, "val/d": 1})
    no_decoding(monkeypatch)
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{root}", "test", image_size=8, progress=False)
    msg = str(e.value)
    assert "train/ has 3 classes and test/ has 2" in msg and "only in train/: 'c'" in msg
    assert "train/ has 3 classes and val/ has 4" in msg and "only in val/: 'd'" in msg


@pytest.mark.parametrize("tree, words", [
    ({"train/a": 2, "train/b": 2, "bus": 2}, "mixes split folders"),  # split folders next to a class
    ({"train/a": 2, "val/a": 1, "valid/a": 1}, "two val folders"),
    ({"val/a": 2, "val/b": 2, "test/a": 1, "test/b": 1}, "no train/ folder"),
    ({"train": 3, "val": 2}, "no class subfolders"),  # images directly in train/ and val/
    ({"train/a": 2, "train/b": 2, "test": 2}, "holds no class subfolders"),
])
def test_confusing_layouts_are_refused_with_the_fix(tmp_path, tree, words):
    root = make_tree(tmp_path / "p", tree)
    with pytest.raises(DataError, match=words):
        load_dataset(f"folder:{root}", "train", image_size=8, progress=False)


def test_a_class_named_train_among_other_classes_is_still_a_class(tmp_path):
    root = make_tree(tmp_path / "vehicles", {"train": 3, "bus": 3, "car": 3})  # images directly inside
    assert load_folder(root, "train", image_size=8, progress=False).classes == ["bus", "car", "train"]


def test_one_wrapping_folder_suggests_the_folder_inside(tmp_path):
    root = make_tree(tmp_path / "download", {"dataset/cat": 2, "dataset/dog": 2})
    with pytest.raises(DataError, match="did you mean the folder inside it"):
        load_folder(root, image_size=8)


def test_a_class_too_small_to_test_gets_a_note(tmp_path):
    root = make_tree(tmp_path / "p", {"many": 6, "single": 1, "pair": 2})
    train = load_folder(root, "train", image_size=8, progress=False)
    test = load_folder(root, "test", image_size=8, progress=False)
    assert test.class_counts()[1:] == [0, 0]  # classes: many, pair, single
    assert train.notes == test.notes and len(test.notes) == 2
    assert "class 'single' has only 1 image" in test.notes[1] and "at least 3" in test.notes[1]
    assert "class 'pair' has only 2 images" in test.notes[0]
    assert test.subset([0]).notes == test.notes  # notes travel with subsets (val splits, per_class)


def test_skipped_files_follow_their_split(tmp_path):
    root = make_tree(tmp_path / "p", {"train/a": 3, "train/b": 3, "test/a": 1, "test/b": 1})
    (root / "train" / "a" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "test" / "b" / "empty.png").write_bytes(b"")
    train = load_folder(root, "train", image_size=8, progress=False)
    test = load_folder(root, "test", image_size=8, progress=False)
    assert [p.split("/")[-1] for p, _ in train.skipped] == ["broken.jpg"]
    assert [p.split("/")[-1] for p, _ in test.skipped] == ["empty.png"]
    assert all(reason for _, reason in train.skipped + test.skipped)
    part, val = train.split(0.3)
    assert part.skipped == val.skipped == train.skipped  # the reasons survive the validation split
    assert len(merge_skipped(part, val, test)) == 2


def test_held_out_splits_share_their_skipped_list_and_merge_counts_it_once(tmp_path):
    root = make_tree(tmp_path / "p", {"a": 5, "b": 5})
    (root / "a" / "cut.jpg").write_bytes(b"\xff\xd8\xff")
    train = load_folder(root, "train", image_size=8, progress=False)
    test = load_folder(root, "test", image_size=8, progress=False)
    assert train.skipped == test.skipped and len(train.skipped) == 1
    assert "cut.jpg" in merge_skipped(train, test)[0][0] and len(merge_skipped(train, test)) == 1


@pytest.mark.parametrize("size", [0, 4, 5000, 64.5, True, "64"])
def test_image_size_is_checked_before_anything_is_read(tmp_path, monkeypatch, size):
    root = make_tree(tmp_path / "p", {"a": 2, "b": 2})
    no_decoding(monkeypatch)
    with pytest.raises(ConfigError) as e:
        load_folder(root, image_size=size)
    assert e.value.key == "image_size" and "8 to 1024" in str(e.value)


def test_too_little_memory_is_refused_before_decoding_with_a_size_that_fits(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p", {"a": 10, "b": 10})
    monkeypatch.setattr(folder, "available_memory", lambda: 2_000_000)  # 2 MB free, 1 MB may be used
    no_decoding(monkeypatch)
    with pytest.raises(DataError) as e:  # not cached: the decoded photos must fit in memory
        load_folder(root, "train", image_size=512, progress=False, use_cache=False)
    msg = str(e.value)
    # 20 photos x 3 x 512 x 512 = 15.7 MB; 1 MB fits 20 x 3 x 128 x 128 = 983,040 bytes
    assert "needs 16 MB" in msg and "image_size=128 or smaller" in msg and "cache" in msg
    monkeypatch.setattr(folder, "free_disk", lambda path: 10_000_000)  # cached, but no disk for it either
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{root}", "train", image_size=512, progress=False)
    assert "needs 16 MB" in str(e.value)


def test_a_cached_folder_may_be_larger_than_the_memory(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p", {"a": 10, "b": 10})
    monkeypatch.setattr(folder, "available_memory", lambda: 2_000_000)  # the same 2 MB as above
    data = load_dataset(f"folder:{root}", "train", image_size=512, progress=False)  # 15.7 MB, on disk
    assert len(data) == 16 and data.images[0].shape == (3, 512, 512) and data.notes == []


def test_memory_check_passes_when_the_images_fit(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "p", {"a": 3, "b": 3})
    monkeypatch.setattr(folder, "available_memory", lambda: 2 * 6 * 3 * 16 * 16)
    data = folder.read_folder(root, image_size=16, progress=False)
    assert data.shape == (6, 3, 16, 16)
    assert np.asarray(data.images).dtype == np.uint8
