"""Export a trained run to a file other programs can run: ONNX (onnxruntime, browsers), PT2 (torch.export),
or a web demo folder (the ONNX model with a page that runs it in a browser).

The exported model is the whole input pipeline after decoding, so it predicts what ``evaluate`` measured:

    float pixels 0..255 (N, C, H, W) --"pixels"--> normalization (and, for pretrained backbones, resizing)
      --> the network --> [flip test-time augmentation, when the run was tested with it] --> softmax
      --"probabilities"--> (N, K)

The batch size N is free; C, H and W are the run's (``model.json`` ``input``). The model is exported in
eval mode and float32, also for runs trained with bf16, so every runtime computes the same numbers.

    export("runs/fm")                              # runs/fm/model.onnx
    export("runs/fm", format="pt2")                # runs/fm/model.pt2, loads with torch.export.load alone
    export("runs/fm", opset=17, out="fm17.onnx")   # for an older runtime
    export("runs/fm", format="web")                # runs/fm/web/: index.html, model.onnx... (cnnlab serve it)
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import torch
from torch import nn

from cnnlab._version import __version__
from cnnlab.deploy.pipeline import run_tta
from cnnlab.deploy.webdemo import check_demo_folder, demo_info, write_web_demo
from cnnlab.errors import CnnlabError, ConfigError, ModelError
from cnnlab.files import atomic_write
from cnnlab.training.rundir import load_model

FORMATS = ("onnx", "pt2", "web")
INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"
MAX_BATCH = 4096  # the largest batch the exported graph promises to take (torch.export needs a bound)
INSTALL_ONNX = "pip install onnx onnxscript onnxruntime"


class ProbabilityModel(nn.Module):
    """A run's model as it is exported: float pixels 0..255 in, class probabilities out.

    With ``tta`` the probabilities are the softmax of the mean log-probabilities of the image and its
    mirror, exactly as :func:`cnnlab.training.trainer.predict_logits` scores a run tested with flip TTA.

    Args:
        model: the run's network (it normalizes its input itself).
        tta: average the image and its left-right mirror.

    Input shape: float ``(N, C, H, W)``, pixels 0..255. Output shape: ``(N, K)``, each row sums to 1.

    >>> from cnnlab.models import create_model
    >>> net = create_model("mlp", num_classes=3, in_channels=1, image_size=8).eval()
    >>> p = ProbabilityModel(net, tta=True)(torch.zeros(2, 1, 8, 8))
    >>> p.shape, p.sum(1).allclose(torch.ones(2))
    (torch.Size([2, 3]), True)
    """

    def __init__(self, model: nn.Module, tta: bool = False):
        super().__init__()
        self.model = model
        self.tta = bool(tta)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, K)
        scores = self.model(pixels).float()
        if self.tta:
            mirrored = self.model(pixels.flip(-1)).float()
            scores = (scores.log_softmax(1) + mirrored.log_softmax(1)) / 2
        return scores.softmax(1)


def export_metadata(meta: dict, tta: bool) -> dict[str, str]:
    """What a program running the exported file needs to know, as strings (ONNX metadata_props).

    Args:
        meta: the run's ``model.json``.
        tta: whether the exported graph averages the image and its mirror.

    Returns:
        ``classes`` (a JSON list), ``input_size`` (JSON ``[H, W]``), ``channels``, ``fit`` and ``resample``
        (how photos were made to fit that size), ``data`` (the run's data spec), ``tta``, the input and
        output names and ``cnnlab_version``.

    >>> md = export_metadata({"classes": ["cat", "dog"], "input": {"channels": 3, "size": [64, 64]},
    ...                       "data": "folder:photos"}, tta=True)
    >>> json.loads(md["classes"]), md["input_size"], md["tta"]
    (['cat', 'dog'], '[64, 64]', 'true')
    """
    inp = meta["input"]
    return {
        "classes": json.dumps(list(meta["classes"])),
        "input_size": json.dumps([int(v) for v in inp["size"]]),
        "channels": str(int(inp["channels"])),
        "fit": str(inp.get("fit", "crop")),
        "resample": str(inp.get("resample", "bilinear")),
        "data": str(meta.get("data", "")),
        "tta": "true" if tta else "false",
        "input": f"{INPUT_NAME}: float32 (N, C, H, W), pixel values 0..255 (not 0..1, not normalized)",
        "output": f"{OUTPUT_NAME}: float32 (N, K), one probability per class in the order of 'classes'",
        "cnnlab_version": __version__,
    }


def export(run, format: str = "onnx", out=None, opset: int | None = None, tta: bool | None = None) -> Path:
    """Write a run's model as a file that runs without cnnlab: ONNX, PT2 (torch.export) or a web demo.

    The file takes float pixels 0..255 ``(N, C, H, W)`` (input ``pixels``, any batch size) and gives
    class probabilities ``(N, K)`` (output ``probabilities``), with normalization, resizing and the
    run's flip test-time augmentation inside, so it predicts what ``evaluate`` measured.

    Args:
        run: a run folder (made by ``cnnlab train --out DIR``).
        format: ``onnx`` (onnxruntime, browsers; needs the onnx and onnxscript packages), ``pt2``
            (loads with ``torch.export.load``, no model code needed) or ``web`` (a folder with a web page
            that classifies photos and the webcam with the ONNX model, in the browser; see
            :mod:`cnnlab.deploy.webdemo`; show it with ``cnnlab serve FOLDER``).
        out: the file to write, or a folder to write ``model.onnx`` / ``model.pt2`` into; default the run
            folder. An existing file of that name is replaced (it is derived from the run). For ``web``:
            the demo's folder (default ``RUN/web``), new, empty or an earlier web demo.
        opset: the ONNX opset version, for older runtimes (default: the exporter's own; onnx and web).
        tta: flip test-time augmentation in the graph; None: as the run was tested.

    Returns:
        The path of the written file (for ``web``, of the folder).

    Raises:
        ConfigError: an unknown or deprecated format, an opset for pt2, an opset the exporter cannot write,
            or (web) an ``out`` folder holding other files.
        CnnlabError: the onnx or onnxscript package is missing.
        RunError: the run folder holds no usable model.
        ModelError: the model could not be exported.

    >>> import tempfile
    >>> from cnnlab.models import create_model
    >>> from cnnlab.training.rundir import save_model
    >>> run = tempfile.mkdtemp()
    >>> net = create_model("mlp", num_classes=2, in_channels=1, image_size=8)
    >>> save_model(run, net, {"architecture": net.cnnlab_config, "classes": ["a", "b"],
    ...                       "input": {"channels": 1, "size": [8, 8]}, "data": "digits"})
    >>> export(run, format="pt2").name
    'model.pt2'
    """
    format = _check_format(format)
    if opset is not None and format == "pt2":
        raise ConfigError("opset", opset, "no opset with format pt2",
                          hint="the opset only applies to formats onnx and web")
    if format in ("onnx", "web"):
        onnx = _import_onnx()
        opset = _check_opset(onnx, opset)
    if format == "web":  # refused before the slow part: never mix the demo into a folder of other files
        out = check_demo_folder(Path(run) / "web" if out is None else out)
    model, meta = load_model(run, "cpu")
    use_tta = run_tta(meta) if tta is None else bool(tta)
    # a copy in fp32 and the default memory layout: runtimes get plain float32 NCHW weights
    net = copy.deepcopy(model).float().to(memory_format=torch.contiguous_format).eval()
    wrapper = ProbabilityModel(net, use_tta).eval()
    c, (h, w) = int(meta["input"]["channels"]), (int(v) for v in meta["input"]["size"])
    example = torch.rand(2, c, h, w) * 255  # (N, C, H, W); a batch of 2 so the batch size stays free
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    metadata = export_metadata(meta, use_tta)
    if format == "web":
        info = demo_info(metadata, INPUT_NAME, OUTPUT_NAME, meta.get("metrics", {}).get("test_accuracy"))
        return write_web_demo(out, info, lambda path: _write_onnx(onnx, wrapper, example, batch, path, opset, metadata))
    path = Path(out) if out is not None else Path(run)
    if path.is_dir():  # a folder: the file goes inside it
        path = path / f"model.{format}"
    if format == "onnx":
        _write_onnx(onnx, wrapper, example, batch, path, opset, metadata)
    else:
        _write_pt2(wrapper, example, batch, path, metadata)
    return path


def _check_format(format) -> str:
    name = str(format).strip().lower()
    if name in ("torchscript", "jit", "script"):
        raise ConfigError("format", format, "onnx, pt2 or web",
                          hint="TorchScript is deprecated in torch 2.14; use format onnx (onnxruntime, browsers) "
                               "or pt2 (torch.export, loads with torch.export.load)")
    if name not in FORMATS:
        raise ConfigError("format", format, f"one of {', '.join(FORMATS)}")
    return name


def _import_onnx():
    try:
        import onnx  # deferred: onnx and onnxscript are optional and slow to import
        import onnxscript  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as e:
        raise CnnlabError(f"exporting to ONNX needs the onnx and onnxscript packages ({e.name or e} is missing); "
                          f"install them with: {INSTALL_ONNX}") from None
    return onnx


def _check_opset(onnx, opset) -> int | None:
    if opset is None:
        return None
    newest = onnx.defs.onnx_opset_version()
    try:
        value = int(opset)
    except (TypeError, ValueError):
        value = -1
    if isinstance(opset, bool) or value != opset or not 7 <= value <= newest:
        raise ConfigError("opset", opset, f"a whole number from 7 to {newest}",
                          hint="leave it out for the exporter's default; older runtimes need lower numbers")
    return value


def _write_onnx(onnx, wrapper, example, batch, path: Path, opset, metadata: dict[str, str]) -> None:
    try:
        program = torch.onnx.export(wrapper, (example,), dynamo=True, opset_version=opset, verbose=False,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes=({0: batch},), external_data=False)
    except Exception as e:  # the exporter raises many kinds; a user can only pick another opset or model
        raise ModelError(f"the model could not be exported to ONNX{_opset_words(opset)}: {_short(e)}; "
                         "try another --opset, or --format pt2") from None
    proto = program.model_proto
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:  # the exporter quietly keeps its own opset when it cannot convert
        raise ConfigError("opset", opset, f"an opset this model converts to (it stays at opset {written})",
                          hint="leave it out for the exporter's default, or use a newer runtime")
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = "cnnlab run exported to ONNX: float pixels 0..255 in, class probabilities out"
    atomic_write(path, proto.SerializeToString())


def _write_pt2(wrapper, example, batch, path: Path, metadata: dict[str, str]) -> None:
    try:
        program = torch.export.export(wrapper, (example,), dynamic_shapes=({0: batch},))
    except Exception as e:  # torch.export raises many kinds
        raise ModelError(f"the model could not be exported with torch.export: {_short(e)}; "
                         "try --format onnx") from None
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={"cnnlab.json": json.dumps(metadata)})
    atomic_write(path, buffer.getvalue())


def _opset_words(opset) -> str:
    return f" with opset {opset}" if opset is not None else ""


def _short(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (" ".join(lines[:2]) or type(e).__name__)[:300]


__all__ = ["FORMATS", "ProbabilityModel", "export", "export_metadata"]
