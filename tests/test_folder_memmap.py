"""Photo folders larger than memory: the decoded cache is a memory-mapped .npy file, written in place by
a few threads, renamed into place only when complete, and the training path reads it a batch at a time."""

import mmap
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import cnnlab.data.folder as folder
import cnnlab.data.mapped as mapped
from cnnlab.data.cache import cache_dir, cache_summary, clear_cache
from cnnlab.data.images import convert_mode, load_image, resize, to_chw
from cnnlab.data.imageset import ImageSet, MappedImages
from cnnlab.data.layout import list_files
from cnnlab.data.splits import load_splits
from cnnlab.errors import DataError
from cnnlab.models import create_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate


def entries():
    d = cache_dir() / "folders"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def no_decoding(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a photo was decoded")
    monkeypatch.setattr(folder, "load_image", boom)


def test_the_cache_is_a_npy_file_on_disk_and_the_set_is_backed_by_it(photo_folder, monkeypatch):
    data = folder.read_folder(photo_folder, 16, progress=False)
    assert isinstance(data.images, MappedImages) and isinstance(data.images.array.base, mmap.mmap)
    path = data.images.path
    assert path.name == "images.npy" and path.parent.suffix == ".cache"
    on_disk = np.load(path, mmap_mode="r", allow_pickle=False)  # a standard .npy: NumPy reads it as it is
    assert on_disk.shape == (48, 3, 16, 16) and os.path.getsize(path) == on_disk.offset + 48 * 3 * 16 * 16
    assert np.array_equal(on_disk, data.images.numpy())
    with pytest.raises(ValueError):
        data.images.array[0, 0, 0, 0] = 1  # read-only: nothing can write into the cache through the set
    no_decoding(monkeypatch)  # the second run opens the same file and decodes nothing
    again = folder.read_folder(photo_folder, 16, progress=False)
    assert again.images.path == path and torch.equal(again.images[5], data.images[5])
    assert again.labels.tolist() == data.labels.tolist() and again.classes == data.classes


def test_parallel_decoding_gives_exactly_the_pixels_of_serial_decoding(photo_folder, monkeypatch):
    (photo_folder / "disc" / "broken.jpg").write_bytes(b"\xff\xd8 not really")  # skipped: N shrinks in the header
    _, files = list_files(photo_folder.resolve())
    serial = [to_chw(convert_mode(resize(load_image(p, draft=20), 20), "rgb")) for p, _ in files
              if p.name != "broken.jpg"]
    monkeypatch.setattr(folder, "WORKERS", 1)
    one = folder.read_folder(photo_folder, 20, progress=False, use_cache=False)
    monkeypatch.setattr(folder, "WORKERS", 4)
    many = folder.read_folder(photo_folder, 20, progress=False)  # threads, straight into the cache file
    assert isinstance(many.images, MappedImages) and len(many) == 48 and len(many.skipped) == 1
    assert np.array_equal(np.stack(serial), one.images.numpy())
    assert np.array_equal(one.images.numpy(), many.images.numpy())
    assert np.load(many.images.path, allow_pickle=False).shape == (48, 3, 20, 20)


def test_gray_folders_are_stored_with_one_channel(tmp_path):
    from PIL import Image

    root = tmp_path / "gray"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (12, 10), 40 * i + (100 if cls == "b" else 0)).save(root / cls / f"{i}.png")
    mapped = folder.read_folder(root, 8, progress=False)
    memory = folder.read_folder(root, 8, progress=False, use_cache=False)
    assert mapped.shape == memory.shape == (6, 1, 8, 8)
    assert np.array_equal(mapped.images.numpy(), memory.images.numpy())


def test_an_error_while_decoding_leaves_no_cache(photo_folder, monkeypatch):
    calls = []
    real = folder._decode

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 20:
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(folder, "_decode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        folder.read_folder(photo_folder, 16, progress=False)
    assert entries() == []  # neither a cache nor its temporary folder
    monkeypatch.setattr(folder, "_decode", real)
    assert isinstance(folder.read_folder(photo_folder, 16, progress=False).images, MappedImages)


def test_a_killed_decoding_leaves_no_cache(photo_folder, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        import cnnlab.data.folder as folder
        real, n = folder._decode, []
        def dying(*args):
            n.append(1)
            if len(n) == 30:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args)
        folder._decode = dying
        folder.read_folder({str(photo_folder)!r}, 16, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "CNNLAB_HOME": str(cache_dir())})
    assert proc.returncode == -9
    (left,) = entries()
    assert left.startswith(".") and left.endswith(".tmp")  # a hidden temporary folder, never read as a cache
    (row,) = cache_summary("folders")
    assert "unfinished" in row["what"]
    data = folder.read_folder(photo_folder, 16, progress=False)  # decoded again, complete
    assert len(data) == 48 and any(e.endswith(".cache") for e in entries())


def test_splits_and_subsets_are_views_of_one_file(photo_folder):
    train, val, test = load_splits(f"folder:{photo_folder}", val_fraction=0.2, image_size=16)
    whole = folder.read_folder(photo_folder, 16, progress=False)
    parts = [train.images, val.images, test.images]
    assert all(isinstance(p, MappedImages) and p.path == whole.images.path for p in parts)
    assert train.images.mapping is val.images.mapping  # split off train without reading it
    rows = np.concatenate([p.index for p in parts])
    assert sorted(rows.tolist()) == list(range(48))  # every image in exactly one split
    for p in parts:
        assert np.array_equal(p[:].numpy(), whole.images.array[p.index])
    few = train.per_class(2)
    assert isinstance(few.images, MappedImages) and len(few) == 4
    assert torch.equal(few.images[1], train.images[int(np.searchsorted(train.images.index, few.images.index[1]))])


def test_indexing_returns_tensors_and_other_tensor_code_still_works(photo_folder):
    data = folder.read_folder(photo_folder, 16, progress=False)
    memory = folder.read_folder(photo_folder, 16, progress=False, use_cache=False)
    view, t = data.images.take([5, 0, 7, 3]), memory.images[[5, 0, 7, 3]]
    idx = torch.tensor([2, 0, 3])
    assert torch.equal(view[idx], t[idx]) and torch.equal(view[-1], t[-1]) and torch.equal(view[1:3], t[1:3])
    assert torch.equal(view[idx, 0], t[idx, 0]) and torch.equal(view[1, 2], t[1, 2])
    assert torch.equal(view[torch.tensor([True, False, True, False])], t[[0, 2]])
    assert view.float().mean().item() == pytest.approx(t.float().mean().item())  # a tensor method: on a copy
    assert torch.equal(torch.cat([view, view]), torch.cat([t, t]))
    with pytest.raises(IndexError):
        view[4]
    assert data.mean_std() == memory.mean_std()  # the same chunks, the same sums
    with pytest.raises(DataError):
        ImageSet(data.images, torch.zeros(3, dtype=torch.int64), ["a"])


def test_pages_read_are_handed_back_to_the_system(photo_folder, monkeypatch):
    data = folder.read_folder(photo_folder, 64, progress=False)  # 48 x 3 x 64 x 64 = 576 KB

    def resident_kb():
        lines = open("/proc/self/smaps").read().splitlines()
        for i, line in enumerate(lines):
            if line.endswith(str(data.images.path)):
                return next(int(v.split()[1]) for v in lines[i + 1:] if v.startswith("Rss:"))
        raise AssertionError("the cache file is not mapped")
    if not os.path.exists("/proc/self/smaps"):
        pytest.skip("needs Linux /proc")
    for i in range(0, 48, 8):
        data.images[i:i + 8]
    assert resident_kb() >= 400  # the default window (64 MB) keeps what was read
    monkeypatch.setattr(mapped, "READ_WINDOW", 1)
    for i in range(0, 48, 8):
        data.images[i:i + 8]
        assert resident_kb() == 0  # handed back after every read


def small_run(photo_folder):
    """Splits as a training run makes them, one epoch of a tiny CNN with augmentation, the test scores."""
    train, val, test = load_splits(f"folder:{photo_folder}", val_fraction=0.2, image_size=16)
    torch.manual_seed(0)
    net = create_model("lecture_cnn", num_classes=2, image_size=16, in_channels=3, widths=(4, 8), hidden=8)
    cfg = TrainConfig(epochs=1, batch_size=8, precision="fp32", augment="flip,rotate=10", seed=3)
    result = Trainer(net, train, val, cfg).fit()
    return train, result, evaluate(result.model, test, 16, tta=True)


def test_a_training_run_through_the_cache_gives_the_result_of_one_in_memory(photo_folder, monkeypatch):
    train, mapped, mapped_scores = small_run(photo_folder)
    assert isinstance(train.images, MappedImages)
    clear_cache("folders")
    monkeypatch.setattr(folder, "cache_fits", lambda *a: (False, ""))  # as if no disk: images in memory
    train, memory, memory_scores = small_run(photo_folder)
    assert isinstance(train.images, torch.Tensor)
    untimed = [[{k: v for k, v in h.items() if k not in ("seconds", "images_per_second")} for h in r.history]
               for r in (mapped, memory)]
    assert untimed[0] == untimed[1] and len(untimed[0]) == 1
    assert torch.equal(mapped_scores["probabilities"], memory_scores["probabilities"])
    assert all(torch.equal(x, y) for x, y in zip(mapped.model.state_dict().values(),
                                                  memory.model.state_dict().values(), strict=True))


def test_frozen_features_of_mapped_images_equal_those_in_memory(photo_folder):
    from cnnlab.training.transfer import cached_features, evaluate_frozen

    mapped = folder.read_folder(photo_folder, 16, progress=False).subset(range(0, 48, 8))
    memory = folder.read_folder(photo_folder, 16, progress=False, use_cache=False).subset(range(0, 48, 8))
    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=32)
    sa, sb = (evaluate_frozen(model, d, tta=True) for d in (mapped, memory))  # image and mirror, a batch at a time
    assert torch.equal(sa["probabilities"], sb["probabilities"])
    plain = cached_features(model, mapped)  # what evaluate_frozen cached
    views = cached_features(model, mapped, augment="flip,rotate=10", views=2, use_cache=False)
    assert len(views) == 12 and torch.equal(views.features[:6], plain.features)
    assert not torch.equal(views.features[6:], plain.features)


def test_a_run_hashes_the_photos_once_but_notices_a_changed_photo(photo_folder, monkeypatch):
    from PIL import Image

    calls = []
    real = folder._hash_files
    monkeypatch.setattr(folder, "_hash_files", lambda *a: calls.append(1) or real(*a))
    train, _, test = load_splits(f"folder:{photo_folder}", val_fraction=0.2, image_size=16)
    assert len(calls) == 1 and train.images.path == test.images.path  # train and test: one folder, one hash
    photo = sorted((photo_folder / "disc").iterdir())[0]
    Image.new("RGB", (30, 30), (0, 255, 0)).save(photo)
    os.utime(photo, ns=(1, 1))  # even with an old time stamp: the size changed
    again = folder.read_folder(photo_folder, 16, progress=False)
    assert len(calls) == 2 and again.images.path != train.images.path


def test_without_disk_space_for_the_cache_the_photos_stay_in_memory_with_a_note(tmp_path, monkeypatch):
    from PIL import Image

    root = tmp_path / "same-size"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (12, 10), (40 * i, 90, 0 if cls == "a" else 200)).save(root / cls / f"{i}.png")
    monkeypatch.setattr(folder, "free_disk", lambda path: 1000)
    for size in (8, None):  # None: the size is known only from the first photo
        data = folder.read_folder(root, size, progress=False)
        assert isinstance(data.images, torch.Tensor) and entries() == []
        assert "were not cached" in data.notes[0] and "CNNLAB_HOME" in data.notes[0]


def test_two_processes_finishing_the_same_cache_at_once_keep_one(tmp_path, monkeypatch):
    """Every process of a --nproc run decodes a new folder; the second to finish keeps the first's cache."""
    import cnnlab.data.cache as cache_module
    from cnnlab.data.cache import FolderCacheWriter

    path = tmp_path / "folders" / "same.cache"
    writers = [FolderCacheWriter(path, (2, 1, 4, 4)) for _ in range(2)]  # both started before either finished
    for k, w in enumerate(writers):
        for i in range(2):
            w.write(i, np.full((1, 4, 4), 10 * k + i, np.uint8))
    real_rename, calls = os.rename, []

    def rename(src, dst):  # the other process renames its cache into place just before this one does
        calls.append(src)
        if len(calls) == 1:
            writers[0].finish(2, np.array([0, 1]), ["a", "b"], [], {"folder": "x"})
        real_rename(src, dst)

    monkeypatch.setattr(cache_module.os, "rename", rename)
    writers[1].finish(2, np.array([0, 1]), ["a", "b"], [], {"folder": "x"})  # used to fail: rename onto a full folder
    assert np.load(path / "images.npy")[1, 0, 0, 0] == 1  # the first's images, whole
    assert [p.name for p in path.parent.iterdir()] == ["same.cache"]  # no temporary folder left
