"""The disk cache: normal file modes, one cache per folder and settings, summary and clearing."""

import os
import shutil
import stat
from pathlib import Path

import pytest
from PIL import Image

from cnnlab.data import cache
from cnnlab.data.cache import cache_dir, cache_summary, clear_cache
from cnnlab.data.folder import decode_folder, read_folder
from cnnlab.errors import ConfigError


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def folder_caches():
    return sorted((cache_dir() / "folders").glob("*.cache"))


def test_cache_files_are_written_0644(photo_folder, umask_022):
    decode_folder(photo_folder, 16, progress=False)
    (path,) = folder_caches()
    assert stat.S_IMODE(path.stat().st_mode) == 0o755  # mkdtemp makes 0700
    assert sorted(f.name for f in path.iterdir()) == ["facts.npy", "images.npy", "labels.npy", "meta.json"]
    assert {stat.S_IMODE(f.stat().st_mode) for f in path.iterdir()} == {0o644}


def test_a_changed_folder_replaces_its_old_cache(photo_folder):
    decode_folder(photo_folder, 16, progress=False)
    (first,) = folder_caches()
    Image.new("RGB", (30, 30), (0, 255, 0)).save(sorted((photo_folder / "disc").iterdir())[0])
    decode_folder(photo_folder, 16, progress=False)
    (second,) = folder_caches()  # one file: the old copy is gone
    assert second != first and not first.exists()


def test_other_settings_and_other_folders_keep_their_caches(photo_folder, tmp_path):
    decode_folder(photo_folder, 16, progress=False)
    decode_folder(photo_folder, 24, progress=False)
    assert len(folder_caches()) == 2  # two image sizes of one folder (scratch and pretrained runs) coexist
    shutil.copytree(photo_folder, tmp_path / "copy")
    decode_folder(tmp_path / "copy", 16, progress=False)
    assert len(folder_caches()) == 3


def test_a_damaged_cache_file_is_decoded_again(photo_folder):
    a = decode_folder(photo_folder, 16, progress=False)[0]
    (path,) = folder_caches()
    (path / "images.npy").unlink()  # a new, damaged file (``a`` still maps the old one: never change it in place)
    (path / "images.npy").write_bytes(b"\x93NUMPY half a file")
    b = decode_folder(photo_folder, 16, progress=False)[0]
    assert (a == b).all() and folder_caches() == [path] and (path / "images.npy").stat().st_size > 1000


def test_summary_names_each_file_and_clear_frees_the_bytes(photo_folder):
    read_folder(photo_folder, 16, progress=False)
    features = cache_dir() / "features"
    features.mkdir(parents=True)
    (features / "abc.safetensors").write_bytes(b"x" * 1000)
    download = cache_dir() / "fashion-mnist"
    download.mkdir(parents=True)
    (download / "t10k-labels-idx1-ubyte.gz").write_bytes(b"y" * 10)
    rows = cache_summary()
    assert [r["kind"] for r in rows] == ["folders", "features", "downloads"]
    folder_row = rows[0]
    assert folder_row["what"] == f"{photo_folder.resolve()}: 48 images at 16 px (channels 3, fit crop)"
    folder_files = list(Path(folder_row["path"]).iterdir())
    assert folder_row["bytes"] == sum(f.stat().st_size for f in folder_files) > 48 * 3 * 16 * 16
    assert rows[1] == {"kind": "features", "path": str(features / "abc.safetensors"), "bytes": 1000,
                       "what": "backbone features of a transfer run"}
    freed = clear_cache()  # folders and features; downloads stay
    assert freed == folder_row["bytes"] + 1000
    assert [r["kind"] for r in cache_summary()] == ["downloads"]
    assert clear_cache("downloads") == 10 and cache_summary() == []


def test_clear_touches_only_cache_files_and_leaves_fresh_temporaries(tmp_path):
    features = cache_dir() / "features"
    features.mkdir(parents=True)
    (features / "notes.txt").write_text("mine")
    fresh, stale = features / ".a.safetensors.1.tmp", features / ".b.safetensors.2.tmp"
    fresh.write_bytes(b"123")  # a transfer run may be writing it right now
    stale.write_bytes(b"12345")
    os.utime(stale, (1_000_000_000, 1_000_000_000))  # left by a run stopped long ago
    assert clear_cache("all") == 5
    assert (features / "notes.txt").exists() and fresh.exists() and not stale.exists()
    with pytest.raises(ConfigError) as e:
        clear_cache("folder")
    assert e.value.key == "kind" and "folders, features, downloads" in str(e.value)


def test_older_cache_files_are_listed_but_not_guessed(tmp_path):
    d = cache_dir() / "folders"
    d.mkdir(parents=True)
    (d / "0123abcd.npz").write_bytes(b"old")
    (row,) = cache_summary("folders")
    assert "older cnnlab" in row["what"]
    assert cache.clear_cache("folders") == 3


def test_a_stale_half_written_folder_cache_is_cleared(tmp_path):
    d = cache_dir() / "folders"
    stale = d / ".abc-def.cache.x1.tmp"
    stale.mkdir(parents=True)
    (stale / "images.npy").write_bytes(b"z" * 7)
    os.utime(stale / "images.npy", (1_000_000_000, 1_000_000_000))
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    (row,) = cache_summary("folders")
    assert row["bytes"] == 7 and "unfinished" in row["what"]
    assert clear_cache("folders") == 7 and not stale.exists()
