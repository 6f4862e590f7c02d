"""The studio's projects on disk: projects, classes, images, checks, import/export, samples (no HTTP)."""

import io
import json
import os
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnlab.data.images import load_image
from cnnlab.errors import CnnlabError, ConfigError, DataError
from cnnlab.studio import checks, gallery, samples, transfer
from cnnlab.studio.safety import Conflict, NotFound, TooLarge
from cnnlab.studio.store import Store
from cnnlab.studio.uploads import MAX_SIDE, Limits


def image_bytes(fmt="PNG", size=(40, 30), color=(200, 30, 30), **save):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save)
    return buf.getvalue()


def noise(seed, size=(24, 24)):
    return np.random.default_rng(seed).integers(0, 255, size=(*size, 3), dtype=np.uint8)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "projects")


def project_with(store, **classes):
    """A project with classes name -> number of distinct noise images."""
    p = store.create_project("Test")["id"]
    for name, n in classes.items():
        c = store.add_class(p, name)["id"]
        for i in range(n):
            gallery.add_pixels(store, p, c, noise(zlib.crc32(f"{name}/{i}".encode())))
    return p


def test_projects_are_created_renamed_and_listed_as_folders(store):
    p = store.create_project("  My cats  ")
    assert p["name"] == "My cats" and p["id"].startswith("my-cats-") and p["images"] == 0
    folder = store.root / p["id"]
    assert json.loads((folder / "project.json").read_text())["name"] == "My cats"
    assert store.rename_project(p["id"], "Cats and dogs")["name"] == "Cats and dogs"
    assert (store.root / p["id"]).is_dir()  # the id and folder stay
    assert [x["id"] for x in store.list_projects()] == [p["id"]]
    assert not list(store.root.glob(".*"))  # built in a hidden folder, renamed into place


@pytest.mark.parametrize("name", ["", "   ", "a" * 81, "line\nbreak", "nul\x00", 42, None, ["x"]])
def test_bad_names_are_refused(store, name):
    with pytest.raises(ConfigError):
        store.create_project(name)
    assert store.list_projects() == []


def test_delete_needs_the_exact_name_and_leaves_nothing(store):
    p = project_with(store, cat=2)
    for wrong in (None, "", "test", "Test "):
        with pytest.raises(CnnlabError, match="type its exact name"):
            store.delete_project(p, wrong)
        assert (store.root / p).is_dir()
    assert store.delete_project(p, "Test") == p
    assert list(store.root.iterdir()) == []


def test_left_overs_of_a_killed_server_are_removed_at_start(tmp_path):
    root = tmp_path / "projects"
    for name in (".new-abc", ".trash-x-1", ".new-now"):
        (root / name).mkdir(parents=True)
    for name in (".new-abc", ".trash-x-1"):
        os.utime(root / name, (1, 1))  # old: a server that was killed
    Store(root)
    assert [p.name for p in root.iterdir()] == [".new-now"]  # maybe another studio building it right now


def test_class_ids_are_slugs_never_runs_or_split_names(store):
    p = store.create_project("P")["id"]
    ids = [store.add_class(p, n)["id"] for n in ("Ankle boot", "runs", "train", "Test", "猫")]
    assert ids == ["ankle-boot", "runs-2", "train-2", "test-2", "class"]
    with pytest.raises(Conflict, match="already a class called 'Ankle boot'"):
        store.add_class(p, "ankle BOOT")
    assert store.rename_class(p, "class", "Cat")["id"] == "class"
    assert [k["name"] for k in store.summary(p)["classes"]] == ["Ankle boot", "runs", "train", "Test", "Cat"]
    assert store.delete_class(p, "runs-2") == "runs-2"
    assert not (store.root / p / "runs-2").exists()
    with pytest.raises(NotFound):
        store.class_dir(p, "runs-2")


def test_a_damaged_project_file_is_a_clear_error_and_hides_no_other_project(store):
    good = store.create_project("Good")["id"]
    bad = store.create_project("Bad")["id"]
    (store.root / bad / "project.json").write_text("{not json")
    with pytest.raises(DataError, match="is damaged"):
        store.summary(bad)
    assert [x["id"] for x in store.list_projects()] == [good]


def test_a_class_folder_added_by_hand_shows_up(store):
    p = store.create_project("P")["id"]
    (store.root / p / "birds").mkdir()
    assert [k["id"] for k in store.summary(p)["classes"]] == ["birds"]


def test_uploads_are_decoded_and_stored_again_under_server_names(store):
    p = project_with(store, cat=0)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # camera maker: metadata that must not be kept
    jpeg = image_bytes("JPEG", exif=exif.tobytes())
    files = [("../../evil.png", image_bytes("PNG")), ("x.bmp", image_bytes("BMP")), ("photo.jpg", jpeg),
             ("notes.png", b"hello, not an image"), ("big.png", image_bytes("PNG", size=(3000, 1500)))]
    out = gallery.add_files(store, p, "cat", files)
    assert [r["file"] for r in out["refused"]] == ["notes.png"]
    assert "not an image" in out["refused"][0]["reason"]
    stored = sorted((store.root / p / "cat").iterdir())
    assert len(stored) == 4 and {f.suffix for f in stored} == {".png", ".jpg"}
    assert all(f.stem in [a["id"] for a in out["added"]] for f in stored)  # names made by the server
    jpg = next(f for f in stored if f.suffix == ".jpg")
    assert jpg.read_bytes() != jpeg and b"SecretCam" not in jpg.read_bytes()
    assert max(max(load_image(f).shape[:2]) for f in stored) == MAX_SIDE  # 3000 px shrunk


def test_a_zip_upload_adds_its_images_and_refuses_the_rest(store):
    p = project_with(store, cat=0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/b/1.png", image_bytes())
        z.writestr("2.jpg", image_bytes("JPEG"))
        z.writestr("__MACOSX/._1.png", b"junk")
        z.writestr("inner.zip", buf.getvalue() or b"PK\x03\x04")
        z.writestr("readme.txt", b"text")
    out = gallery.add_files(store, p, "cat", [("photos.zip", buf.getvalue())])
    assert len(out["added"]) == 2
    assert sorted(r["file"] for r in out["refused"]) == ["photos.zip/inner.zip", "photos.zip/readme.txt"]


def test_findings_copies_too_few_imbalance_and_unreadable(store):
    p = project_with(store, cat=20, dog=4)
    png = image_bytes("PNG", color=(1, 2, 3))
    gallery.add_files(store, p, "cat", [("a.png", png), ("b.bmp", image_bytes("BMP", color=(1, 2, 3)))])
    gallery.add_files(store, p, "dog", [("c.png", png)])
    broken = sorted((store.root / p / "dog").iterdir())[0]
    broken.write_bytes(broken.read_bytes()[:20])  # a damaged file inside the project
    kinds = {(f["kind"], f["level"]): f["message"] for f in gallery.findings(store, p)}
    assert "1 file could not be read" in kinds[("unreadable", "warning")]
    assert "1 image is an exact copy of another (1 in 'cat')" in kinds[("duplicates", "warning")]
    assert "in two classes at once ('cat' and 'dog')" in kinds[("duplicates", "error")]
    assert "'dog' has only 5 images" not in str(kinds)  # 4 + 1 = 5 images: enough
    assert "'cat' has 22 images but 'dog' only 5 (4.4 times fewer)" in kinds[("imbalance", "warning")]


@pytest.mark.parametrize("counts,kinds", [
    ({"a": 5, "b": 15}, []), ({"a": 4, "b": 12}, ["too_few"]), ({"a": 5, "b": 16}, ["imbalance"]),
    ({"a": 0, "b": 9}, ["too_few"]), ({"a": 9}, ["classes"]), ({}, ["classes"])])
def test_class_checks_thresholds(counts, kinds):
    assert [f["kind"] for f in checks.class_findings(counts)] == kinds


def test_the_message_says_how_many_more(store):
    assert "add at least 2 more" in checks.class_findings({"a": 3, "b": 3})[0]["message"]


def exported_zip(store, p, runs=False):
    path = transfer.export_zip(store, p, runs=runs)
    try:
        return zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    finally:
        path.unlink()


def test_export_and_import_give_the_same_project_back(store):
    p = project_with(store, **{"Ankle boot": 2, "bag": 3})
    run = store.root / p / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "report.md").write_text("# report")
    (run / ".lock").write_text("{}")
    z = exported_zip(store, p)
    assert not [n for n in z.namelist() if "/runs/" in n]
    assert len([n for n in z.namelist() if n.endswith(".png")]) == 5
    with_runs = exported_zip(store, p, runs=True).namelist()
    assert f"{p}/runs/r1/report.md" in with_runs and f"{p}/runs/r1/.lock" not in with_runs
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:  # the runs are in the zip: they must not become classes
        for n in with_runs:
            out.writestr(n, exported_zip(store, p, runs=True).read(n))
    back = transfer.import_zip(store, buf, "export.zip")
    assert back["name"] == "Test" and back["id"] != p
    assert [(k["name"], k["count"]) for k in back["classes"]] == [("Ankle boot", 2), ("bag", 3)]


def test_an_import_without_images_creates_nothing(store):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("top.png", image_bytes())  # not in a class folder
        z.writestr("cat/notes.txt", b"text")
    with pytest.raises(DataError, match="found no images in class folders"):
        transfer.import_zip(store, buf, "x.zip")
    assert list(store.root.iterdir()) == []


def test_zip_bombs_are_refused_before_unpacking(store):
    limits = Limits(max_upload_mb=1, max_file_mb=0.5, max_files=10)
    small = Store(store.root, limits)
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as z:
        for i in range(11):
            z.writestr(f"cat/{i}.png", b"x")
    with pytest.raises(TooLarge, match="holds 11 files, more than the limit of 10"):
        transfer.import_zip(small, many, "many.zip")
    huge = io.BytesIO()
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(5):  # 5 x 0.45 MB of zeros: a few KB packed, 2.25 MB unpacked (limit: 2 x 1 MB)
            z.writestr(f"cat/{i}.png", bytes(470_000))
    assert len(huge.getvalue()) < 20_000
    with pytest.raises(TooLarge, match="unpacks to"):
        transfer.import_zip(small, huge, "huge.zip")
    one = io.BytesIO()
    with zipfile.ZipFile(one, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("cat/big.png", bytes(600_000))
    p = project_with(small, cat=0)
    out = gallery.add_files(small, p, "cat", [("one.zip", one.getvalue())])
    assert "more than the limit of 0.5 MB per file" in out["refused"][0]["reason"]
    assert [d.name for d in small.root.iterdir()] == [p]  # no half-made project left


def test_folder_import_reads_only_images_and_changes_nothing(store, tmp_path):
    src = tmp_path / "photos"
    for cls in ("cat", "dog"):
        (src / "train" / cls).mkdir(parents=True)
        for i in range(2):
            (src / "train" / cls / f"{i}.png").write_bytes(image_bytes(color=(i * 50, 9, 9 + len(cls))))
    (src / "top.jpg").write_bytes(image_bytes("JPEG"))
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    os.symlink(secret, src / "train" / "cat" / "link.png")
    before = {f: f.stat().st_mtime_ns for f in src.rglob("*")}
    out = transfer.import_folder(store, str(src))
    assert [(k["name"], k["count"]) for k in out["classes"]] == [("cat", 2), ("dog", 2)]
    assert sorted(r["file"] for r in out["refused"]) == ["top.jpg", "train/cat/link.png"]
    assert {f: f.stat().st_mtime_ns for f in src.rglob("*")} == before
    for bad in ("relative/path", str(secret), str(tmp_path / "missing"), "", 7):
        with pytest.raises(DataError):
            transfer.import_folder(store, bad)


def test_duplicate_copies_classes_and_images_not_runs(store):
    p = project_with(store, cat=2)
    (store.root / p / "runs" / "r1").mkdir(parents=True)
    copy = transfer.duplicate_project(store, p)
    assert copy["name"] == "Test (copy)" and copy["images"] == 2 and copy["runs"] == 0
    assert not (store.root / copy["id"] / "runs").exists()


@pytest.mark.parametrize("source,cls,shape", [("digits", "7", (32, 32)), ("photos", "cat", (96, 96, 3)),
                                              ("fashion-mnist", "Bag", (28, 28))])
def test_samples_continue_where_the_class_stopped(source, cls, shape):
    first = samples.sample_images(source, cls, 0, 4)
    more = samples.sample_images(source, cls, 2, 4)
    assert first[0].shape == shape and first[0].dtype == np.uint8
    assert np.array_equal(first[2], more[0])
    hashes = {gallery.pixel_hash(a) for a in first + more}
    assert len(hashes) == 6  # no copies


def test_sample_requests_are_checked():
    assert samples.check_request("photos", ["cat"], 3) == ("photos", ["cat"], 3)
    for bad in (("nope", None, 3), ("digits", ["11"], 3), ("digits", "7", 3), ("digits", None, 0),
                ("digits", None, 201), ("digits", None, True)):
        with pytest.raises(ConfigError):
            samples.check_request(*bad)
