"""The ``cnnlab`` command: a thin layer over the Python API.

``cnnlab train``'s options are generated from :class:`cnnlab.config.RunConfig` (one flag per option,
with its help text and default from the one place they live), so the command line, Python and a
JSON file can never disagree. Errors a user can fix print as one line (exit code 2); anything else
is a bug and prints its traceback (exit code 1); an interrupted run exits with 130.

>>> from cnnlab.cli import main
>>> main(["train", "--out", "/tmp/x", "--batch-size", "-5"])
2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import MISSING
from pathlib import Path

from cnnlab._version import __version__
from cnnlab.config import RunConfig, flag_of, option_table
from cnnlab.data.augment import list_augments
from cnnlab.data.augment.view import preview
from cnnlab.data.cache import cache_summary, clear_cache
from cnnlab.data.check import check_data, format_report
from cnnlab.data.sources import fetch_fashion_mnist, list_sources, make_synthetic
from cnnlab.data.splits import load_splits
from cnnlab.deploy.evaluate import evaluate
from cnnlab.deploy.export import export
from cnnlab.deploy.onnx_predict import predict_onnx
from cnnlab.deploy.predict import check_run_folder, predict
from cnnlab.deploy.rows import show_rows
from cnnlab.deploy.serve import serve
from cnnlab.errors import CnnlabError, ConfigError, Interrupted
from cnnlab.learn.explain import explain
from cnnlab.models import model_info, summary
from cnnlab.prove import CLAIMS, experiment
from cnnlab.studio.server import run_studio
from cnnlab.training import distributed
from cnnlab.training.estimate import dry_run
from cnnlab.training.events import ConsolePrinter
from cnnlab.training.lock import check_out
from cnnlab.training.run import build_model, resumed_config, train

EXAMPLES = {
    "train": ["cnnlab train --data fashion-mnist --model lecture_cnn --epochs 8 --out runs/fm",
              "cnnlab train --data folder:photos --model efficientnet_lite0 --pretrained --freeze --epochs 10 "
              "--out runs/photos",
              "cnnlab train --config run.json --out runs/from-json",
              "cnnlab train --out runs/fm --resume",
              "cnnlab train --data fashion-mnist --nproc 2 --max-restarts 3 --out runs/fm-ddp",
              "cnnlab train --data fashion-mnist --epochs 8 --out runs/fm --dry-run"],
    "evaluate": ["cnnlab evaluate runs/fm --json"],
    "predict": ["cnnlab predict runs/fm shoe.png photos/ 'more/*.jpg' --top-k 3 --csv out.csv",
                "cnnlab predict runs/fm/model.onnx shoe.png",
                "cnnlab predict --model efficientnet_lite0 cat.jpg"],
    "summary": ["cnnlab summary --model lecture_cnn --data fashion-mnist"],
    "datasets": ["cnnlab datasets", "cnnlab datasets --fetch fashion-mnist"],
    "augment": ["cnnlab augment preview --data fashion-mnist --augment flip,rotate=15,translate=0.1,crop=4,color=0.2 "
                "--out aug.png"],
    "explain": ["cnnlab explain convolution --image cat.jpg --out conv.png", "cnnlab explain all --out figures/"],
    "cache": ["cnnlab cache", "cnnlab cache clear folders"],
    "check": ["cnnlab check photos/", "cnnlab check folder:photos --seed 3 --json",
              "cnnlab check fashion-mnist"],
    "export": ["cnnlab export runs/fm --format onnx", "cnnlab export runs/fm --format pt2 --out deploy/",
               "cnnlab export runs/fm --format web --out fm-demo"],
    "serve": ["cnnlab serve fm-demo --open"],
    "studio": ["cnnlab studio --open", "cnnlab studio --host 0.0.0.0 --access-code tiger-42"],
    "experiment": ["cnnlab experiment list", "cnnlab experiment dropout --seeds 3",
                   "cnnlab experiment all --budget standard --out experiments/standard"],
}


def _epochs(text: str):
    v = float(text)
    return int(v) if v.is_integer() else v


def _add_config_options(p: argparse.ArgumentParser) -> None:
    """One flag per RunConfig option; only options given on the command line reach the config."""
    group = p.add_argument_group("run options (each also a key of --config JSON files and of cnnlab.train)")
    for key, (_, f) in option_table().items():
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        flag = meta.get("flag") or "--" + key.replace("_", "-")
        default = f.default if f.default is not MISSING else f.default_factory()
        text = f"{meta['help']} (default: {default})".replace("%", "%%")  # argparse formats help with %
        kw = {"dest": key, "default": argparse.SUPPRESS, "help": text}
        kind = str(f.type)
        if kind == "bool":
            group.add_argument(flag, action="store_true", **kw)
        elif kind == "bool | None":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif kind == "dict":
            group.add_argument(flag, action="append", metavar=meta.get("metavar"), **kw)
        else:
            typ = _epochs if key == "epochs" else int if kind.startswith("int") else float if kind == "float" else str
            group.add_argument(flag, type=typ, metavar=meta.get("metavar"), **kw)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnnlab", description="Learn CNNs on real images, then train real ones fast.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  " + "\n  ".join(x for v in EXAMPLES.values() for x in v))
    p.add_argument("--version", action="version", version=f"cnnlab {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def cmd(name, help_):
        return sub.add_parser(name, help=help_, description=help_, formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="examples:\n  " + "\n  ".join(EXAMPLES[name]))

    t = cmd("train", "train a model and write a run folder (model, history, report)")
    t.add_argument("--out", required=True, help="run folder to write")
    t.add_argument("--config", default=None, metavar="JSON", help="read options from a JSON file (flags override it)")
    t.add_argument("--resume", action="store_true", help="continue the interrupted run in --out with its settings")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    t.add_argument("--quiet", action="store_true", help="no progress output")
    t.add_argument("--dry-run", action="store_true",
                   help="time a few steps, print the predicted time per epoch and peak memory, and stop (nothing is "
                        "trained or written)")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (torchrun + DistributedDataParallel; gloo on CPU, "
                        "nccl on CUDA); the global batch and learning rate stay those of one process. Across machines: "
                        "torchrun --nnodes M --nproc-per-node N --rdzv-endpoint HOST:PORT -m cnnlab train ...")
    t.add_argument("--max-restarts", type=int, default=0, metavar="N",
                   help="when a process dies, restart all of them up to N times; they continue from the last "
                        "checkpoint")
    _add_config_options(t)

    e = cmd("evaluate", "test accuracy of a saved run")
    e.add_argument("run_dir")
    e.add_argument("--data", default=None, help="evaluate on this data set's test split instead")
    e.add_argument("--json", action="store_true", help="print JSON")

    pr = cmd("predict", "predict the class of image files, folders or globs")
    pr.add_argument("paths", nargs="+", help="RUN_DIR (or an exported model.onnx) then files/folders/globs "
                                             "(no RUN_DIR with --model)")
    pr.add_argument("--model", default=None, help="efficientnet_lite0: ImageNet classes, no run needed")
    pr.add_argument("--top-k", type=int, default=None, help="classes shown per image (default 3)")
    pr.add_argument("--csv", default=None, help="also write the predictions to this CSV file")

    s = cmd("summary", "layer-by-layer summary of a model: output shapes, parameters, FLOPs")
    s.add_argument("--model", required=True)
    s.add_argument("--data", default=None, help="take channels/size/classes from this data set")

    d = cmd("datasets", "list the data sets, where they come from and whether they are present")
    d.add_argument("--fetch", choices=["fashion-mnist"], default=None, help="download the official files")

    a = cmd("augment", "see what data augmentation does")
    a.add_argument("action", choices=["preview", "list"])
    a.add_argument("--data", default="fashion-mnist")
    a.add_argument("--augment", default="flip,rotate=15,translate=0.1,crop=4,color=0.2")
    a.add_argument("--out", default="augment.png")
    a.add_argument("--n", type=int, default=6, help="augmented variants per image")
    a.add_argument("--rows", type=int, default=6, help="number of images")
    a.add_argument("--seed", type=int, default=0)

    x = cmd("explain", "draw a figure for a lecture idea (or all of them)")
    x.add_argument("topic", help="a topic name, or 'all'; 'cnnlab explain list' lists them")
    x.add_argument("--image", default=None, help="use your own photo")
    x.add_argument("--out", default=None, help="PNG file (or a folder for 'all')")
    x.add_argument("--run", default=None, help="a run directory, for the 'trained' topic")

    xp = cmd("export", "export a trained run: ONNX (onnxruntime), PT2 (torch.export) or a web demo folder")
    xp.add_argument("run_dir")
    xp.add_argument("--format", default="onnx",
                    help="onnx | pt2 | web (a page that runs the model in the browser; TorchScript is deprecated)")
    xp.add_argument("--out", default=None,
                    help="file or folder to write (default: model.onnx / model.pt2 / web/ in the run)")
    xp.add_argument("--opset", type=int, default=None, help="ONNX opset, for older runtimes")
    xp.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average the image and its mirror inside the graph (default: as the run was tested)")

    sv = cmd("serve", "serve a web demo folder (cnnlab export RUN --format web) at http://127.0.0.1:PORT/")
    sv.add_argument("folder")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--host", default="127.0.0.1", help="127.0.0.1: this computer only (default)")
    sv.add_argument("--open", action="store_true", help="open it in the web browser")

    st = cmd("studio", "open the studio: make a classifier in your web browser (projects, webcam, training, export)")
    st.add_argument("--port", type=int, default=8321)
    st.add_argument("--host", default="127.0.0.1",
                    help="127.0.0.1: this computer only (default); another address needs --access-code")
    st.add_argument("--open", action="store_true", help="open it in the web browser")
    st.add_argument("--projects", default=None, metavar="DIR",
                    help="where projects are kept (default ~/cnnlab/projects)")
    st.add_argument("--access-code", default=None, metavar="CODE",
                    help="a code every browser must give (required when --host is not 127.0.0.1)")

    ex = cmd("experiment", "test a claim of the lecture with a seed-paired experiment and write a lab report")
    ex.add_argument("claim", help="a claim's name, 'all', or 'list' to list them")
    ex.add_argument("--seeds", type=int, default=None, help="seeds per claim (default 3 quick, 5 standard)")
    ex.add_argument("--budget", default="quick", help="quick (about 1 minute per claim) or standard (about 5)")
    ex.add_argument("--out", default=None, metavar="DIR", help="experiment folder (default experiments/BUDGET); "
                                                              "run again to resume")
    ex.add_argument("--quiet", action="store_true", help="no progress bar")

    ck = cmd("check", "look for problems in a data set before training: unreadable files, copies, the same image in "
                      "two classes or in train and test, imbalance, tiny, gray or EXIF-rotated images")
    ck.add_argument("data", help="a photo folder (PATH or folder:PATH) or a data set name, as cnnlab train --data")
    ck.add_argument("--json", action="store_true", help="print the findings as JSON, for programs")
    ck.add_argument("--seed", type=int, default=0, help="the training seed: it draws the validation split (default 0)")
    ck.add_argument("--val", type=float, default=0.1, dest="val_fraction",
                    help="share of training images held out for validation, as cnnlab train --val (default 0.1)")
    ck.add_argument("--per-class", type=int, default=None, metavar="K", help="as cnnlab train --per-class")
    ck.epilog += ("\n\nexit code: 0 when no errors are found (warnings and notes may be), 3 when errors are found "
                  "(an image in two classes, or in two splits), 2 when the data cannot be checked")

    c = cmd("cache", "show or clear cnnlab's cache (decoded photo folders, transfer-learning features)")
    c.add_argument("action", nargs="?", choices=["show", "clear"], default="show")
    c.add_argument("kind", nargs="?", default=None, help="folders | features | downloads (default: all)")
    return p


COMMAND_KEYS = ("top_k", "csv", "config", "format", "opset", "image", "topic", "out", "port", "seeds",
                "budget", "nproc", "max_restarts")  # keys that are flags


def _message(e: CnnlabError) -> str:
    """A library error worded for the command line: option names become flags."""
    if isinstance(e, ConfigError):
        if e.key.startswith("model_args."):
            return f"--model-arg {e.key.split('.', 1)[1]}={e.value}: expected {e.expected}" + \
                (f"; {e.hint}" if e.hint else "")
        if e.key in option_table() or e.key in COMMAND_KEYS:
            return e.format(flag_of(e.key))
    return str(e)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 bug, 2 user error, 130 interrupted)."""
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args) or 0
    except Interrupted as e:
        if distributed.env_world().main:  # every process of a run stops at the same step: one says so
            print(f"cnnlab {args.command}: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"cnnlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except CnnlabError as e:  # something the user can fix: one line, no traceback
        print(f"cnnlab {args.command}: error: {_message(e)}", file=sys.stderr)
        return 2
    except Exception:  # anything else is a bug in cnnlab: show everything
        traceback.print_exc()
        print(f"\ncnnlab {args.command}: this is a bug in cnnlab {__version__}, not something you did wrong. "
              "Please report it with the lines above.", file=sys.stderr)
        return 1


def model_args_from_cli(items: list[str]) -> dict:
    """``["widths=[32,64]", "dropout=0.5"]`` -> ``{"widths": [32, 64], "dropout": 0.5}`` (JSON values, else text)."""
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError("model_args", item, "KEY=VALUE, e.g. dropout=0.5")
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


def cmd_train(a) -> int:
    """``cnnlab train``: see its --help."""
    options = {k: v for k, v in vars(a).items() if k in option_table()}
    if "model_args" in options:
        options["model_args"] = model_args_from_cli(options["model_args"])
    if a.dry_run:  # no run folder, no lock: only the estimate (of the saved settings with --resume)
        if a.resume:
            check_out(a.out, resume=True)
        cfg = resumed_config(Path(a.out), a.config, options) if a.resume else RunConfig.build(a.config, **options)
        dry_run(cfg.validate(), build_model, ConsolePrinter(bars=not a.quiet))
        return 0
    if (a.nproc != 1 or a.max_restarts) and not distributed.env_world().active and "TORCHELASTIC_RUN_ID" not in \
            os.environ:
        return _launch(a, options)
    try:
        meta = train(a.config, out=a.out, resume=a.resume, overwrite=a.overwrite, progress=not a.quiet, **options)
    except Exception as e:
        if not distributed.is_peer_failure(e):
            raise
        print(f"cnnlab train (process {distributed.env_world().rank}): lost contact with another process of this "
              "run (it stopped or died); with --max-restarts, torchrun starts them all again from the last "
              "checkpoint", file=sys.stderr)
        return 1
    if not distributed.env_world().main:
        return 0  # rank 0 reports
    skipped = meta["skipped_files"]
    if skipped:
        print(f"skipped {len(skipped)} file(s) that could not be read:")
        for path, why in skipped:
            print(f"  {why}" if why.startswith(str(path)) else f"  {path}: {why}")
    print(f"test accuracy: {meta['metrics']['test_accuracy']:.2%}   report: {a.out}/report.md")
    return 0


def _launch(a, options: dict) -> int:
    """``--nproc``/``--max-restarts``: check everything a user could get wrong here, then hand over to torchrun."""
    if a.nproc < 1 or a.nproc > 256:
        raise ConfigError("nproc", a.nproc, "a number of processes from 1 to 256")
    if a.max_restarts < 0:
        raise ConfigError("max_restarts", a.max_restarts, "a number of restarts of 0 or more")
    cfg = RunConfig.build(a.config, **options)
    cfg.validate()
    if a.nproc > 1:
        distributed.check_supported(cfg.model.freeze)
        distributed.check_batch(cfg.training.batch_size, a.nproc)
    check_out(a.out, a.resume, a.overwrite)
    code, message = distributed.launch(distributed.strip_launch_flags(a.argv[1:]), a.nproc, a.max_restarts)
    if message:
        print(f"cnnlab train: {message}", file=sys.stderr)
    return code


def cmd_evaluate(a) -> int:
    """``cnnlab evaluate``: see its --help."""
    r = evaluate(a.run_dir, a.data)
    for path, why in r.get("skipped", []):
        print(f"skipped {path}: {why}", file=sys.stderr)
    if a.json:
        print(json.dumps(r))
    else:
        low, high = r["test_accuracy_ci95"]
        print(f"{r['data']}: test accuracy {r['test_accuracy']:.2%} (95% CI {low:.1%} to {high:.1%}) on "
              f"{r['images']:,} images (loss {r['test_loss']:.4f})")
    return 0


def cmd_predict(a) -> int:
    """``cnnlab predict``: see its --help."""
    run_dir, paths = (None, a.paths) if a.model else (a.paths[0], a.paths[1:])
    if run_dir is not None and not str(run_dir).lower().endswith(".onnx"):
        check_run_folder(run_dir)  # "cnnlab predict cat.jpg": say what the first argument must be
    if not paths:
        raise ConfigError("paths", " ".join(a.paths), "a run folder, then image files, folders or globs")
    if run_dir is not None and str(run_dir).lower().endswith(".onnx"):  # an exported model: onnxruntime scores it
        rows, skipped = predict_onnx(run_dir, paths, top_k=a.top_k)
    else:
        rows, skipped = predict(run_dir, paths, top_k=a.top_k, model_name=a.model)
    return show_rows(rows, skipped, a.csv)


def cmd_summary(a) -> int:
    """``cnnlab summary``: see its --help."""
    cfg = RunConfig.build(model=a.model, **({"data": a.data} if a.data else {}))
    info = model_info(a.model)
    if a.data:
        train_set, _, _ = load_splits(a.data, val_fraction=0, image_size=info.folder_image_size)
    else:
        train_set = make_synthetic(n=20, image_size=28, num_classes=2)
        train_set.classes = [str(i) for i in range(10)]
    net = build_model(cfg, train_set, info)
    size = info.input_size
    shape = (info.channels or train_set.channels, size, size) if size else tuple(train_set.shape[1:])
    print(summary(net, shape))
    return 0


def cmd_datasets(a) -> int:
    """``cnnlab datasets``: see its --help."""
    if a.fetch:
        print(f"fashion-mnist: {fetch_fashion_mnist()}")
        return 0
    for d in list_sources():
        mark = "yes" if d["present"] else "NO "
        print(f"{d['form']:15s} present: {mark}  {d['about']}\n{'':15s} source: {d['where']}")
    return 0


def cmd_augment(a) -> int:
    """``cnnlab augment``: see its --help."""
    if a.action == "list":
        for row in list_augments():
            print(f"  {row['form']:22s} {row['about']}")
        return 0
    print(f"wrote {preview(a.data, a.augment, a.out, n=a.n, rows=a.rows, seed=a.seed)}")
    return 0


def cmd_explain(a) -> int:
    """``cnnlab explain``: see its --help."""
    for path in explain(a.topic, out=a.out, image=a.image, run=a.run):
        print(f"wrote {path}")
    return 0


def cmd_export(a) -> int:
    """``cnnlab export``: see its --help."""
    path = export(a.run_dir, format=a.format, out=a.out, opset=a.opset, tta=a.tta)
    print(f"wrote {path}")
    if path.is_dir():  # a web demo: browsers refuse to run it from file://
        print(f"open it with: cnnlab serve {path}")
    return 0


def cmd_serve(a) -> int:
    """``cnnlab serve``: see its --help."""
    serve(a.folder, host=a.host, port=a.port, open_browser=a.open)
    return 0


def cmd_studio(a) -> int:
    """``cnnlab studio``: see its --help."""
    run_studio(host=a.host, port=a.port, projects_dir=a.projects, open_browser=a.open, access_code=a.access_code)
    return 0


def cmd_experiment(a) -> int:
    """``cnnlab experiment``: see its --help."""
    if a.claim == "list":
        for c in CLAIMS.values():
            print(f"{c.name:14s} {c.title}")
        return 0
    out = a.out or f"experiments/{a.budget}"
    results = experiment(a.claim, seeds=a.seeds, budget=a.budget, out=out, progress=not a.quiet)
    for c in results["claims"]:
        s = c["comparisons"][0]["summary"]
        print(f"{c['name']:14s} {c['verdict']:26s} {c['headline']}" + (f": {s['mean']:+.4g}" if s else ""))
    print(f"report: {out}/report.html (and report.md, results.json, results.csv)")
    return 0


def cmd_check(a) -> int:
    """``cnnlab check``: see its --help."""
    report = check_data(a.data, seed=a.seed, val_fraction=a.val_fraction, per_class=a.per_class)
    print(json.dumps(report, indent=1) if a.json else format_report(report))
    return 3 if report["errors"] else 0


def cmd_cache(a) -> int:
    """``cnnlab cache``: see its --help."""
    if a.action == "clear":
        freed = clear_cache(a.kind)
        print(f"freed {freed / 1e6:,.1f} MB")
        return 0
    rows = cache_summary(a.kind or "all")
    for r in rows:
        print(f"{r['bytes'] / 1e6:10,.1f} MB  {r['kind']:9s} {r['what']}")
    print(f"{sum(r['bytes'] for r in rows) / 1e6:10,.1f} MB  in all" + ("" if rows else " (the cache is empty)"))
    return 0


COMMANDS = {"experiment": cmd_experiment, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "summary": cmd_summary, "check": cmd_check,
            "datasets": cmd_datasets, "augment": cmd_augment, "explain": cmd_explain, "cache": cmd_cache,
            "export": cmd_export, "serve": cmd_serve, "studio": cmd_studio}

if __name__ == "__main__":
    sys.exit(main())
