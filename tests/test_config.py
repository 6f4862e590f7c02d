"""RunConfig: one place for every option, validated once, saved with the run, used by --resume."""

import json
import os
import signal

import pytest

import cnnlab
from cnnlab.cli import _parser, main
from cnnlab.config import RunConfig, TrainConfig, option_table, resolve_training
from cnnlab.errors import ConfigError, Interrupted
from cnnlab.files import read_json

SMALL = {"data": "synthetic", "model_args": {"widths": [8, 16], "hidden": 16}, "batch_size": 16}


def _stop_after_epoch(n):
    """An on_event listener that presses Ctrl-C once epoch ``n`` has ended (the trainer then checkpoints)."""
    def listen(e):
        if e["event"] == "epoch_end" and e["epoch"] == n:
            os.kill(os.getpid(), signal.SIGINT)
    return listen


def test_resume_from_python_keeps_the_saved_epoch_count(tmp_path):
    # cnnlab 0.1: train_run(out=d, resume=True) continued a 3-epoch run as an 8-epoch run
    out = tmp_path / "r"
    with pytest.raises(Interrupted, match="--resume"):
        cnnlab.train(out=out, epochs=3, progress=False, on_event=_stop_after_epoch(1), **SMALL)
    assert read_json(out / "resume.json")["config"]["training"]["epochs"] == 3
    meta = cnnlab.train(out=out, resume=True, progress=False)
    assert meta["metrics"]["epochs_run"] == 3
    assert meta["config"]["training"]["epochs"] == 3
    assert len((out / "history.jsonl").read_text().splitlines()) == 3


def test_resume_refuses_options_that_differ_from_the_saved_run(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(Interrupted):
        cnnlab.train(out=out, epochs=2, progress=False, on_event=_stop_after_epoch(1), **SMALL)
    for option in ({"epochs": 5}, {"data": "digits"}, {"model": "mlp"}, {"lr": 0.1}):
        with pytest.raises(ConfigError, match="interrupted run's own value") as e:
            cnnlab.train(out=out, resume=True, progress=False, **option)
        assert e.value.key == next(iter(option))
    # the same value again, or a runtime option, is fine
    meta = cnnlab.train(out=out, resume=True, progress=False, epochs=2, device="cpu")
    assert meta["metrics"]["epochs_run"] == 2


def test_train_seconds_after_a_resume_count_both_parts(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(Interrupted):
        cnnlab.train(out=out, epochs=2, progress=False, on_event=_stop_after_epoch(1), **SMALL)
    first = read_json(out / "resume.json")["train_seconds"]
    assert first > 0
    meta = cnnlab.train(out=out, resume=True, progress=False)
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert meta["metrics"]["train_seconds"] >= first + history[-1]["seconds"] * 0.9


BAD = [  # option, value, words the message must hold
    ("batch_size", -5, "at least 2"), ("batch_size", 0, "at least 2"), ("batch_size", 1, "batch norm"),
    ("lr", 0, "a number above 0"), ("lr", -1e-3, "a number above 0"), ("per_class", 0, "at least 1"),
    ("epochs", 0, "(0, 10000]"),
    ("val_fraction", 1.5, "[0, 0.9]"), ("device", "gpu", "auto, cpu, cuda"), ("precision", "fp16", "bf16"),
    ("seed", -1, "at least 0"), ("augment", "fliip", "did you mean"), ("model", "lecture_cn", "did you mean"),
    ("image_size", 64, "folder"), ("tta", "yes", "true, false"),
]


@pytest.mark.parametrize("key,value,words", BAD)
def test_every_bad_option_is_one_config_error_naming_it(key, value, words):
    with pytest.raises(ConfigError) as e:
        RunConfig.build(**{key: value}).validate()
    assert words in str(e.value)
    assert e.value.key == key or e.value.key.startswith(key)


def test_folder_image_size_is_bounded(tmp_path):
    for size in (0, 5000):
        with pytest.raises(ConfigError, match="image_size"):
            RunConfig.build(data=f"folder:{tmp_path}", image_size=size).validate()


def test_unknown_option_names_say_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        RunConfig.build(batchsize=3)


def test_cli_prints_one_line_naming_the_flag(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "r"), "--batch-size", "-5"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["cnnlab train: error: --batch-size -5: expected a whole number of at least 2 "
                                        "(batch norm needs two images per batch)"]
    assert not (tmp_path / "r" / "resume.json").exists()


def test_cli_model_arg_error_names_the_flag(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "r"), "--model-arg", "pool_first=maybe"])
    err = capsys.readouterr().err
    assert code == 2 and "--model-arg pool_first=maybe" in err and "Traceback" not in err


def test_cli_flags_come_from_the_config_and_defaults_live_in_one_place():
    p = _parser()
    args = p.parse_args(["train", "--out", "x"])
    given = {k: v for k, v in vars(args).items() if k in option_table()}
    assert given == {}  # nothing given -> every default comes from RunConfig itself
    assert RunConfig().training == TrainConfig()
    args = p.parse_args(["train", "--out", "x", "--epochs", "1.5", "--per-class", "7", "--val", "0.2",
                         "--no-tta", "--pretrained", "--model-arg", "a=1", "--batch-size", "32"])
    assert (args.epochs, args.per_class, args.val_fraction, args.tta, args.pretrained, args.model_args,
            args.batch_size) == (1.5, 7, 0.2, False, True, ["a=1"], 32)


def test_config_from_json_file_equals_the_same_options(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"data": {"source": "digits"}, "training": {"epochs": 3, "lr": 0.01}}))
    a = RunConfig.build(path)
    b = RunConfig.build(data="digits", epochs=3, lr=0.01)
    assert a == b
    path.write_text(json.dumps({"training": {"epoch": 3}}))
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        RunConfig.build(path)


def test_the_config_is_saved_with_the_run_and_rebuilds_it(tmp_path):
    meta = cnnlab.train(out=tmp_path / "r", epochs=1, progress=False, **SMALL)
    saved = RunConfig.from_dict(meta["config"])
    assert saved == RunConfig.build(epochs=1, **SMALL).validate()
    assert meta["training"]["batch_size"] == 16 and meta["training"]["augment"] == "flip"


def test_digits_are_not_mirrored_by_default_but_fashion_is(tmp_path):
    # a mirrored "3" is not a 3: the data source says so, and the default flip (and flip TTA) is dropped
    notes = []
    meta = cnnlab.train(data="digits", out=tmp_path / "d", epochs=1, progress=False, model_args={"widths": [8, 16]},
                        on_event=lambda e: notes.append(e.get("text", "")))
    assert meta["training"]["augment"] is None and meta["training"]["tta"] is False
    assert any("no mirroring for digits" in n for n in notes)
    t = resolve_training(TrainConfig(), "lecture_cnn", 60_000, mirror_safe=True)
    assert (t.augment, t.tta) == ("flip", True)
    t = resolve_training(TrainConfig(augment="flip,rotate=10"), "lecture_cnn", 60_000, mirror_safe=False)
    assert t.augment == "flip,rotate=10"  # asked for explicitly: kept
