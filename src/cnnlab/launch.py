"""The ``cnnlab`` command's front door: the whole toolkit when PyTorch is installed, prediction without it.

``pip install "cnnlab[deploy]"`` installs numpy, Pillow and onnxruntime only (tens of megabytes instead of a
gigabyte of PyTorch). There, ``cnnlab predict RUN_OR_ONNX images...`` runs an exported ``model.onnx``
(:mod:`cnnlab.deploy.onnx_predict`) and ``cnnlab serve DIR`` serves a web demo; every other command says
in one line what to install. With PyTorch, everything goes to :mod:`cnnlab.cli`.

This module imports nothing that needs PyTorch (``tests/test_no_torch.py`` runs it where importing
torch fails).

>>> lite_main(["train", "--data", "digits", "--out", "runs/d"])  # as if PyTorch were missing: one line on stderr
2
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cnnlab._version import __version__
from cnnlab.deploy.onnx_predict import predict_onnx
from cnnlab.deploy.rows import show_rows
from cnnlab.deploy.serve import serve
from cnnlab.errors import CnnlabError

FULL = 'pip install "cnnlab[all]"'
LITE_COMMANDS = ("predict", "serve")


def torch_problem() -> str | None:
    """None when PyTorch imports; else why not, in words (missing, or installed but broken)."""
    try:
        import torch  # noqa: F401  deferred: the one question this module asks about torch, and it is slow
    except ImportError as e:
        if e.name == "torch" and "No module named" in str(e):
            return "PyTorch is not installed"
        return f"PyTorch is installed but does not import ({str(e).splitlines()[0][:120]})"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``cnnlab``: the full command line with PyTorch, else the prediction-only one. Returns the exit code."""
    problem = torch_problem()
    if problem is None:
        # a module name, not an import statement: cnnlab.cli imports torch, which this module must not
        return importlib.import_module("cnnlab.cli").main(argv)
    return lite_main(argv, problem)


def _lite_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cnnlab", description="cnnlab without PyTorch: predict with an exported "
                                "model.onnx, serve a web demo. For training and the studio: " + FULL)
    p.add_argument("--version", action="version", version=f"cnnlab {__version__} (no PyTorch: predict and serve)")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="predict the class of image files, folders or globs with a model.onnx")
    pr.add_argument("paths", nargs="+", help="a model.onnx (or a run folder holding one), then files/folders/globs")
    pr.add_argument("--top-k", type=int, default=None, help="classes shown per image (default 3)")
    pr.add_argument("--csv", default=None, help="also write the predictions to this CSV file")
    sv = sub.add_parser("serve", help="serve a web demo folder (cnnlab export RUN --format web) on this computer")
    sv.add_argument("folder")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--open", action="store_true", help="open it in the web browser")
    return p


def lite_main(argv: list[str] | None, problem: str = "PyTorch is not installed") -> int:
    """The command line where PyTorch is missing: ``predict`` and ``serve``; other commands say what to install.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        problem: why PyTorch is unavailable, said when a command needs it.

    Returns:
        The exit code: 0 ok, 1 nothing predicted, 2 a user error (one line on stderr).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is not None and command not in LITE_COMMANDS:
        print(f"cnnlab {command}: {problem}; this command needs it: {FULL}  "
              f"(without PyTorch cnnlab can only {' and '.join(LITE_COMMANDS)})", file=sys.stderr)
        return 2
    args = _lite_parser().parse_args(argv)
    try:
        if args.command == "serve":
            serve(args.folder, host=args.host, port=args.port, open_browser=args.open)
            return 0
        if len(args.paths) < 2:
            raise CnnlabError("give a model.onnx (or a run folder holding one), then image files, folders or globs")
        rows, skipped = predict_onnx(args.paths[0], args.paths[1:], top_k=args.top_k)
        return show_rows(rows, skipped, args.csv)
    except KeyboardInterrupt:
        return 130
    except CnnlabError as e:
        key = getattr(e, "key", None)
        text = e.format("--" + key.replace("_", "-")) if key in ("top_k", "csv") else str(e)
        print(f"cnnlab {args.command}: error: {text}", file=sys.stderr)
        return 2


__all__ = ["lite_main", "main", "torch_problem"]
