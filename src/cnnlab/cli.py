"""The ``cnnlab`` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from cnnlab import __version__
from cnnlab.errors import CnnlabError, ConfigError

EXAMPLES = {
    "train": "cnnlab train --data fashion-mnist --model lecture_cnn --epochs 8 --out runs/fm\n"
             "  cnnlab train --data folder:photos --model efficientnet_lite0 --pretrained --freeze "
             "--epochs 10 --out runs/photos",
    "evaluate": "cnnlab evaluate runs/fm --json",
    "predict": "cnnlab predict runs/fm shoe.png photos/ 'more/*.jpg' --top-k 3 --csv out.csv\n"
               "  cnnlab predict --model efficientnet_lite0 cat.jpg      (ImageNet classes)",
    "summary": "cnnlab summary --model lecture_cnn --data fashion-mnist",
    "datasets": "cnnlab datasets            (or: cnnlab datasets --fetch fashion-mnist)",
    "augment": "cnnlab.data.augment.view --data fashion-mnist --augment flip,rotate=15,translate=0.1,crop=4,"
               "color=0.2 --out aug.png",
    "explain": "cnnlab explain convolution --image cat.jpg --out conv.png   |   cnnlab explain all --out figures/",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnnlab", description="Learn CNNs on real images, then train real ones fast.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="examples:\n  " + "\n  ".join(EXAMPLES.values()))
    sub = p.add_subparsers(dest="command", required=True)

    def cmd(name, help_):
        return sub.add_parser(name, help=help_, description=help_, formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog=f"example:\n  {EXAMPLES[name]}")

    t = cmd("train", "train a model and write a run directory (model, history, report)")
    t.add_argument("--data", default="fashion-mnist", help="fashion-mnist | digits | folder:PATH | synthetic")
    t.add_argument("--model", default="lecture_cnn", help="a registered model (cnnlab summary --model X) or timm:NAME")
    t.add_argument("--epochs", type=int, default=None, help="number of epochs (default 8)")
    t.add_argument("--out", required=True, help="run directory to write")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--per-class", type=int, default=None, help="use at most K training images per class")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--lr", type=float, default=None, help="peak learning rate of the one-cycle schedule")
    t.add_argument("--augment", default="auto", help='e.g. "flip,rotate=15,translate=0.1,crop=4,color=0.2"; '
                   '"none" for none; default: flip from scratch, none for pretrained')
    t.add_argument("--val", type=float, default=0.1, help="share of the training data held out for validation")
    t.add_argument("--image-size", type=int, default=None, help="decode folder photos at this size")
    t.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture argument, e.g. --model-arg widths=[32,64] --model-arg dropout=0.5")
    t.add_argument("--pretrained", action="store_true", help="start from ImageNet weights")
    t.add_argument("--freeze", action="store_true", help="freeze the pretrained feature extractor, train a new head")
    t.add_argument("--fine-tune", type=int, default=None, metavar="N",
                   help="after N epochs, unfreeze the last blocks with a lower learning rate")
    t.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    t.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="average over the image and its mirror at evaluation (default: on when training flips)")
    t.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    e = cmd("evaluate", "test accuracy of a saved run")
    e.add_argument("run_dir")
    e.add_argument("--data", default=None, help="evaluate on this data set's test split instead")
    e.add_argument("--json", action="store_true", help="print JSON")

    pr = cmd("predict", "predict the class of image files, folders or globs")
    pr.add_argument("paths", nargs="+", help="RUN_DIR then files/folders/globs (no RUN_DIR with --model)")
    pr.add_argument("--model", default=None, help="efficientnet_lite0: ImageNet classes, no run needed")
    pr.add_argument("--top-k", type=int, default=3)
    pr.add_argument("--csv", default=None, help="also write the predictions to this CSV file")

    s = cmd("summary", "layer-by-layer summary of a model: output shapes, parameters, FLOPs")
    s.add_argument("--model", required=True)
    s.add_argument("--data", default=None, help="take channels/size/classes from this data set")

    d = cmd("datasets", "list the data sets, where they come from and whether they are present")
    d.add_argument("--fetch", choices=["fashion-mnist"], default=None, help="download the official files")

    a = cmd("augment", "see what data augmentation does")
    a.add_argument("action", choices=["preview"])
    a.add_argument("--data", default="fashion-mnist")
    a.add_argument("--augment", default="flip,rotate=15,translate=0.1,crop=4,color=0.2")
    a.add_argument("--out", required=True)
    a.add_argument("--n", type=int, default=6, help="augmented variants per image")
    a.add_argument("--rows", type=int, default=6, help="number of images")
    a.add_argument("--seed", type=int, default=0)

    x = cmd("explain", "draw a figure for a lecture idea (or all of them)")
    x.add_argument("topic", help="a topic name, or 'all'; 'cnnlab explain list' lists them")
    x.add_argument("--image", default=None, help="use your own photo")
    x.add_argument("--out", default=None, help="PNG file (or a folder for 'all')")
    x.add_argument("--run", default=None, help="a run directory, for the 'trained' topic")
    return p


def _model_args(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq:
            raise ConfigError("--model-arg", item, "KEY=VALUE, e.g. dropout=0.5")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:
        print(f"cnnlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except CnnlabError as e:  # something the user can fix: one line, no traceback
        print(f"cnnlab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception:  # anything else is a bug in cnnlab: show everything
        traceback.print_exc()
        print(f"\ncnnlab {args.command}: this is a bug in cnnlab {__version__}, not something you did wrong. "
              "Please report it with the lines above.", file=sys.stderr)
        return 1


def cmd_train(a) -> int:
    from cnnlab.training.run import train_run

    meta = train_run(a.data, a.model, a.epochs, a.out, seed=a.seed, per_class=a.per_class,
                     batch_size=a.batch_size, lr=a.lr, augment=a.augment, val_fraction=a.val, device=a.device,
                     precision=a.precision, image_size=a.image_size, model_args=_model_args(a.model_arg),
                     pretrained=a.pretrained, freeze=a.freeze, fine_tune=a.fine_tune, compile=a.compile,
                     tta=a.tta, resume=a.resume, progress=not a.quiet)
    skipped = meta["skipped_files"]
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):\n  " + "\n  ".join(skipped))
    print(f"test accuracy: {meta['metrics']['test_accuracy']:.2%}   report: {a.out}/report.md")
    return 0


def cmd_evaluate(a) -> int:
    from cnnlab.training.run import evaluate_run

    r = evaluate_run(a.run_dir, a.data)
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{r['data']}: test accuracy {r['test_accuracy']:.2%} on {r['images']:,} images "
              f"(loss {r['test_loss']:.4f})")
    return 0


def cmd_predict(a) -> int:
    from cnnlab.deploy.predict import format_rows, predict_files, write_csv

    run_dir, paths = (None, a.paths) if a.model else (a.paths[0], a.paths[1:])
    if not paths:
        raise ConfigError("paths", " ".join(a.paths), "a run directory, then image files, folders or globs")
    rows, skipped = predict_files(run_dir, paths, top_k=a.top_k, model_name=a.model)
    if rows:
        print(format_rows(rows))
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for _, why in skipped:
            print(f"  {why}", file=sys.stderr)
    if a.csv:
        write_csv(rows, a.csv)
        print(f"wrote {a.csv}")
    return 0 if rows else 1


def cmd_summary(a) -> int:
    from cnnlab.models import summary
    from cnnlab.training.run import build_model, load_data

    if a.data:
        train, _ = load_data(a.data, a.model, progress=False)
    else:
        from cnnlab.data.sources import make_synthetic

        train = make_synthetic(n=20, image_size=28, num_classes=2)
        train.classes = [str(i) for i in range(10)]
    net = build_model(a.model, train)
    shape = (3, *net.pretrained_cfg["input_size"][1:]) if hasattr(net, "pretrained_cfg") else train.shape[1:]
    print(summary(net, shape))
    return 0


def cmd_datasets(a) -> int:
    from cnnlab.data import sources as datasets

    if a.fetch:
        print(f"fashion-mnist: {datasets.fetch_fashion_mnist()}")
        return 0
    for d in datasets.describe_datasets():
        mark = "yes" if d["present"] else "NO "
        print(f"{d['spec']:15s} present: {mark}  {d['about']}\n{'':15s} source: {d['source']}")
    return 0


def cmd_augment(a) -> int:
    from cnnlab.data.augment.view import preview

    path = preview(a.data, a.augment, a.out, n=a.n, rows=a.rows, seed=a.seed)
    print(f"wrote {path}")
    return 0


def cmd_explain(a) -> int:
    from cnnlab.learn.explain import explain

    for path in explain(a.topic, out=a.out, image=a.image, run=a.run):
        print(f"wrote {path}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "summary": cmd_summary,
            "datasets": cmd_datasets, "augment": cmd_augment, "explain": cmd_explain}

if __name__ == "__main__":
    sys.exit(main())
