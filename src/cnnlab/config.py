"""One configuration for a training run: :class:`RunConfig` with ``data``, ``model`` and ``training`` sections.

Every default lives here, once. The command line, Python, a JSON file and (later) the studio's form all
build a ``RunConfig`` the same way, it is validated once (:meth:`RunConfig.validate`), saved with the
run (``model.json`` and the resume file) and read back by ``--resume``.

Each option has one flat name used everywhere (``epochs``, ``batch_size``, ``data``, ``model_args``...);
its command-line flag is derived from it (``--batch-size``). The ``training`` section is the
:class:`TrainConfig` the :class:`~cnnlab.training.trainer.Trainer` reads; "auto" values (batch size,
augmentation, test-time augmentation) are filled from the model's registry entry and the data size
by :func:`resolve_training`.

>>> from cnnlab.config import RunConfig
>>> cfg = RunConfig.build(data="digits", epochs=2, model_args={"widths": [16, 32]})
>>> cfg.training.epochs, cfg.data.source, cfg.model.name
(2, 'digits', 'lecture_cnn')
>>> cfg.flat()["batch_size"] is None        # "auto": picked from the model and the data size
True
>>> RunConfig.build(batch_size=-5).validate()
Traceback (most recent call last):
  ...
cnnlab.errors.ConfigError: batch_size=-5: expected a whole number of at least 2 (batch norm needs two images per batch)
"""

from __future__ import annotations

import difflib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import cnnlab.config_checks as C
from cnnlab.data.augment import Flip, parse_augment
from cnnlab.errors import ConfigError, ModelError
from cnnlab.models.registry import check_model_args, list_models, model_info


def option(default, help: str, check: Callable | None = None, flag: str | None = None, cli: bool = True,
           metavar: str | None = None):
    """A dataclass field carrying its help text, its check and (optionally) its command-line flag."""
    meta = {"help": help, "check": check, "flag": flag, "cli": cli, "metavar": metavar}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------- recipes

# name -> what it is for and the options it sets (measured in docs/benchmarks.md, "Training: time to accuracy")
RECIPES: dict[str, dict] = {
    "fm-95": {"about": "a small residual network with flips, crops and random erasing, 21 epochs: 95.26% on "
                       "Fashion-MNIST after 26 minutes of training on 2 CPU cores (with --val 0; docs/benchmarks.md)",
              "options": {"model": "resnet_small", "augment": "flip,crop=2,erase=0.25@0.5", "epochs": 21}},
}


# ---------------------------------------------------------------- the three sections


@dataclass
class DataConfig:
    """Which images to train on and how to split them."""

    source: str = option("fashion-mnist", "data set: fashion-mnist | digits | folder:PATH | synthetic", C.text,
                         flag="--data")
    per_class: int | None = option(None, "use at most K training images per class", C.int_at_least(1), metavar="K")
    val_fraction: float = option(0.1, "share of the training images held out for validation (0 for none)",
                                 C.number_between(0, 0.9), flag="--val")
    image_size: int | None = option(None, "decode folder photos at this size (default: the model's)",
                                    C.int_between(8, 1024), metavar="PIXELS")
    fit: str = option("crop", "how folder photos of another shape become square: crop (the centre), pad (black "
                      "bars: the whole photo) or stretch", C.one_of("crop", "pad", "stretch"))


@dataclass
class ModelConfig:
    """Which network, with which arguments and starting weights."""

    name: str = option("lecture_cnn", "a registered model (cnnlab summary --model X) or timm:NAME", C.text,
                       flag="--model")
    args: dict = option({}, "architecture argument KEY=VALUE, e.g. widths=[32,64] or dropout=0.5 (repeatable)",
                        C.model_args, flag="--model-arg", metavar="KEY=VALUE")
    pretrained: bool = option(False, "start from ImageNet weights", C.is_bool)
    freeze: bool = option(False, "keep the pretrained feature extractor fixed and train a new head", C.is_bool)
    fine_tune: int | None = option(None, "after N epochs, unfreeze the last blocks at a tenth of the learning rate",
                                   C.int_at_least(0), metavar="N")


@dataclass
class TrainConfig:
    """How to train: schedule, optimizer, augmentation, precision. ``None``/"auto" = chosen for you."""

    epochs: float = option(8, "number of epochs (may be fractional: 1.5)", C.number_between(0, 10_000, lo_open=True))
    batch_size: int | None = option(None, "images per step (default: the model's, smaller for small data sets)",
                                    C.int_at_least(2, " (batch norm needs two images per batch)"))
    lr: float = option(8e-3, "peak learning rate of the one-cycle schedule", C.positive)
    weight_decay: float = option(5e-2, "AdamW's decoupled weight decay", C.number_between(0, 10))
    label_smoothing: float = option(0.1, "label smoothing of the loss", C.number_between(0, 1, hi_open=True))
    warmup: float = option(0.25, "share of the steps spent rising to the peak learning rate",
                           C.number_between(0, 1, hi_open=True))
    seed: int = option(0, "random seed: the same seed gives the same run", C.int_at_least(0))
    augment: str | None = option("auto", 'augmentation, e.g. "flip,rotate=15,translate=0.1,crop=4,color=0.2"; '
                                 '"none"; auto = the model\'s default (flip from scratch, none for pretrained)',
                                 C.augment_spec)
    tta: bool | None = option(None, "average over the image and its mirror when testing (default: on when "
                              "training with flips)", C.optional_bool)
    recipe: str | None = option(None, "a named recipe that sets the model, augmentation, epochs... (options you give "
                                "win): " + ", ".join(f"{k} ({v['about']})" for k, v in RECIPES.items()),
                                lambda v: None if v is None or v in RECIPES else
                                f"one of the recipes: {', '.join(RECIPES)}")
    average: float = option(0.0, "average the weights over this last share of the steps, e.g. 0.25 (0: off); the "
                            "average is the model that is saved", C.number_between(0, 1, hi_open=True),
                            metavar="SHARE")
    device: str = option("auto", "auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps", C.device)
    precision: str = option("auto", "auto (bf16 where it is fast), fp32 or bf16", C.one_of("auto", "fp32", "bf16"))
    compile: bool = option(False, "torch.compile the model (slower on most CPUs)", C.is_bool)
    estimate: bool | None = option(None, "time a few steps first and print the predicted time per epoch and peak "
                                   "memory (default: only for runs that look longer than 30 seconds)",
                                   C.optional_bool)
    channels_last: bool = option(True, "channels-last memory format (faster convolutions on CPU)", C.is_bool,
                                 cli=False)
    eval_batch_size: int | None = option(None, "images per step when testing (default: the model's)",
                                         C.int_at_least(1), cli=False)

    def to_dict(self) -> dict:
        """The section as a plain JSON-able dict."""
        return asdict(self)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "training": TrainConfig}
# flat names that differ from "<field name>": the flat name is what Python keywords, JSON and errors use
_RENAMED = {("data", "source"): "data", ("model", "name"): "model", ("model", "args"): "model_args"}
# options that say where a run executes, not what it computes: a resumed run may change them
RUNTIME_OPTIONS = ("device", "compile", "estimate")


def _flat_name(section: str, name: str) -> str:
    return _RENAMED.get((section, name), name)


def option_table() -> dict[str, tuple[str, Any]]:
    """Every option: flat name -> (section, dataclass field). The CLI builds its flags from this table."""
    table = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            table[_flat_name(section, f.name)] = (section, f)
    return table


def flag_of(key: str) -> str:
    """The command-line flag of a flat option name: ``batch_size`` -> ``--batch-size``."""
    entry = option_table().get(key.split(".")[0])
    if entry and entry[1].metadata.get("flag"):
        return entry[1].metadata["flag"]
    return "--" + key.split(".")[0].replace("_", "-")


def _default(f):
    return f.default_factory() if f.default is MISSING else f.default


@dataclass
class RunConfig:
    """Everything that defines a training run.

    Args:
        data: which images (:class:`DataConfig`).
        model: which network (:class:`ModelConfig`).
        training: how to train (:class:`TrainConfig`).

    Example:

    >>> cfg = RunConfig.build({"training": {"epochs": 3}}, data="synthetic")
    >>> cfg.training.epochs, cfg.data.source
    (3, 'synthetic')
    >>> RunConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)

    # ------------------------------------------------------------ building
    @classmethod
    def build(cls, config: RunConfig | dict | str | Path | None = None, **options) -> RunConfig:
        """One step from anything to a RunConfig: a RunConfig, a nested dict, a JSON file, plus flat options.

        Args:
            config: a RunConfig, a dict (nested ``{"data": {...}, "training": {...}}`` or flat
                ``{"epochs": 3}``), the path of a JSON file holding such a dict, or None for the defaults.
            **options: flat options applied on top (``epochs=3, batch_size=64, data="digits"``).

        Returns:
            A new RunConfig (not yet validated: call :meth:`validate`).

        Raises:
            ConfigError: an unknown option name (with "did you mean"), or a JSON file that cannot be read.
        """
        if isinstance(config, RunConfig):
            base = config.copy()
        elif isinstance(config, (str, Path)):
            base = cls.from_json(config)
        elif isinstance(config, dict):
            base = cls.from_dict(config)
        elif config is None:
            base = cls()
        else:
            raise ConfigError("config", type(config).__name__, "a RunConfig, a dict or the path of a JSON file")
        cfg = base.merge(options)
        return cfg.with_recipe(_given_keys(config, options)) if cfg.training.recipe else cfg

    def with_recipe(self, given: set[str]) -> RunConfig:
        """A copy with the recipe's options set, except those in ``given`` (the options a user chose).

        >>> cfg = RunConfig.build(recipe="fm-95", epochs=3)
        >>> cfg.model.name, cfg.training.epochs    # the recipe's model, the user's epochs
        ('resnet_small', 3)
        """
        recipe = RECIPES.get(self.training.recipe)
        if recipe is None:
            raise ConfigError("recipe", self.training.recipe, f"one of the recipes: {', '.join(RECIPES)}",
                              hint=_did_you_mean(str(self.training.recipe), RECIPES))
        return self.merge({k: v for k, v in recipe["options"].items() if k not in given})

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """A RunConfig from a nested dict (as saved in model.json) or a flat one (``{"epochs": 3}``)."""
        if not isinstance(d, dict):
            raise ConfigError("config", d, "a dict")
        nested = {k: v for k, v in d.items() if k in SECTIONS and isinstance(v, dict)}
        flat = {k: v for k, v in d.items() if k not in nested}
        cfg = cls()
        for section, values in nested.items():
            table = {f.name for f in fields(SECTIONS[section])}
            for k, v in values.items():
                if k not in table:
                    raise ConfigError(f"{section}.{k}", v, f"one of the {section} options: {', '.join(sorted(table))}",
                                      hint=_did_you_mean(k, table))
                setattr(getattr(cfg, section), k, v)
        return cfg.merge(flat)

    @classmethod
    def from_json(cls, path: str | Path) -> RunConfig:
        """A RunConfig from a JSON file (nested or flat keys)."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError("config", str(path), "the path of an existing JSON file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError("config", str(path), f"a valid JSON file ({e})") from None
        return cls.from_dict(d)

    def merge(self, options: dict) -> RunConfig:
        """A copy with flat options (``{"epochs": 3}``) or dotted ones (``{"training.epochs": 3}``) applied."""
        cfg = self.copy()
        table = option_table()
        for key, value in options.items():
            section, name = _locate(key, table)
            setattr(getattr(cfg, section), name, value)
        return cfg

    def copy(self) -> RunConfig:
        """A deep copy."""
        return RunConfig.from_nested(json.loads(json.dumps(self.to_dict())))

    @classmethod
    def from_nested(cls, d: dict) -> RunConfig:
        """A RunConfig from the exact nested form of :meth:`to_dict` (no merging, no checks)."""
        return cls(**{s: SECTIONS[s](**d.get(s, {})) for s in SECTIONS})

    # ------------------------------------------------------------ reading
    def to_dict(self) -> dict:
        """Nested plain dict (JSON-able): what model.json and resume.json hold."""
        return {s: asdict(getattr(self, s)) for s in SECTIONS}

    def flat(self) -> dict:
        """Flat dict: flat option name -> value."""
        return {k: getattr(getattr(self, s), f.name) for k, (s, f) in option_table().items()}

    def differences(self, other: RunConfig) -> dict[str, tuple]:
        """Flat names whose values differ: name -> (self's value, other's value)."""
        a, b = self.flat(), other.flat()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}

    # ------------------------------------------------------------ checking
    def validate(self) -> RunConfig:
        """Check every option and every combination once; returns self.

        Raises:
            ConfigError: naming the option (its flat Python name), the value and what is allowed.
        """
        for key, (section, f) in option_table().items():
            check = f.metadata.get("check")
            value = getattr(getattr(self, section), f.name)
            problem = check(value) if check else None
            if problem:
                raise ConfigError(key, value, problem)
        d, m, t = self.data, self.model, self.training
        try:
            info = model_info(m.name)
        except ModelError:
            raise ConfigError("model", m.name, "a registered model (" + ", ".join(list_models()) + ") or timm:NAME",
                              hint=_did_you_mean(m.name, list_models())) from None
        m.args = check_model_args(m.name, m.args)
        if m.pretrained and not info.pretrained:
            raise ConfigError("pretrained", True, f"a model with pretrained weights, and {m.name} has none",
                              hint="use the model efficientnet_lite0 (offline) or timm:NAME (online)")
        if m.freeze and not m.pretrained:
            raise ConfigError("freeze", True, "pretrained weights to keep fixed",
                              hint="add pretrained=True (--pretrained)")
        if m.fine_tune is not None and not m.freeze:
            raise ConfigError("fine_tune", m.fine_tune, "a frozen pretrained extractor to fine-tune",
                              hint="add pretrained=True and freeze=True (--pretrained --freeze)")
        if m.fine_tune is not None and m.fine_tune > t.epochs:
            raise ConfigError("fine_tune", m.fine_tune, f"a number of epochs from 0 to epochs ({t.epochs:g})")
        if d.fit != "crop" and not d.source.startswith("folder:"):
            raise ConfigError("fit", d.fit, "crop for this data set",
                              hint=f"fit only says how folder photos are made square; {d.source} has square images")
        if d.image_size is not None and not d.source.startswith("folder:"):
            raise ConfigError("image_size", d.image_size, "no value for this data set",
                              hint=f"image_size only sets the size folder photos are decoded at; {d.source} "
                                   "has fixed-size images")
        return self


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def _given_keys(config, options: dict) -> set[str]:
    """The flat names of the options a user set: in ``options`` and in a dict or JSON config."""
    given = {flat_key(k) for k in options}
    if isinstance(config, (str, Path)):
        config = json.loads(Path(config).read_text())
    if isinstance(config, dict):
        for k, v in config.items():
            if k in SECTIONS and isinstance(v, dict):
                given |= {flat_key(f"{k}.{name}") for name in v}
            else:
                given.add(flat_key(k))
    return given


def flat_key(key: str) -> str:
    """The flat name of an option given flat (``epochs``) or dotted (``training.epochs``).

    >>> flat_key("training.epochs"), flat_key("model.args"), flat_key("batch_size")
    ('epochs', 'model_args', 'batch_size')
    """
    section, name = _locate(key, option_table())
    return _flat_name(section, name)


def _locate(key: str, table: dict) -> tuple[str, str]:
    if "." in key:
        section, _, name = key.partition(".")
        if section in SECTIONS and name in {f.name for f in fields(SECTIONS[section])}:
            return section, name
    elif key in table:
        return table[key][0], table[key][1].name
    raise ConfigError(key, "...", "a known option: " + ", ".join(sorted(table)), hint=_did_you_mean(key, table))


# ---------------------------------------------------------------- "auto" values


def auto_batch_size(preferred: int, n_train: int) -> int:
    """The model's batch size, made smaller for small data sets so an epoch has at least ~16 steps.

    Batch 256 on 90 photos would be one step per epoch: the model barely moves and ends near chance.

    >>> auto_batch_size(256, 54_000), auto_batch_size(256, 1_438), auto_batch_size(256, 90)
    (256, 64, 8)
    """
    size = preferred
    while size > 8 and n_train / size < 16:
        size //= 2
    return max(2, min(size, n_train))


def resolve_training(cfg: TrainConfig, model_name: str | None, n_train: int, mirror_safe: bool = True) -> TrainConfig:
    """A copy of ``cfg`` with every "auto" value decided: batch sizes, augmentation, test-time augmentation.

    Args:
        cfg: the training section (may hold None/"auto").
        model_name: the registered model name whose defaults apply (None: a plain scratch CNN's).
        n_train: number of training examples (small data sets get smaller batches).
        mirror_safe: False when a mirrored image changes class (digits): the default augmentation then has no flips.

    Returns:
        A TrainConfig with concrete values that the Trainer runs with and model.json records.

    >>> t = resolve_training(TrainConfig(), "lecture_cnn", 60_000)
    >>> t.batch_size, t.augment, t.tta
    (256, 'flip', True)
    """
    info = model_info(model_name) if model_name else None
    batch = cfg.batch_size or auto_batch_size(info.batch_size if info else 256, n_train)
    eval_batch = cfg.eval_batch_size or (info.eval_batch_size if info else 1024)
    augment = cfg.augment
    if augment == "auto":
        augment = info.augment if info else None
        if augment and not mirror_safe:  # the model's default flips, but a mirrored "3" is not a 3
            steps = [s for s in augment.split(",") if s.strip().split("@")[0].split("=")[0] not in ("flip", "vflip")]
            augment = ",".join(steps) or None
    if augment is not None and parse_augment(augment) is None:  # "none", "off", ""
        augment = None
    # flip test-time augmentation pays only when the model was trained on mirrored images (without: -7 points)
    pipeline = parse_augment(augment)
    mirrored = pipeline is not None and any(isinstance(step, Flip) and p > 0
                                            for step, p in zip(pipeline.steps, pipeline.p))
    tta = cfg.tta if cfg.tta is not None else mirrored
    return replace(cfg, batch_size=batch, eval_batch_size=eval_batch, augment=augment, tta=tta)


__all__ = ["DataConfig", "ModelConfig", "RECIPES", "RUNTIME_OPTIONS", "RunConfig", "TrainConfig", "auto_batch_size",
           "flag_of", "flat_key", "option_table", "resolve_training"]
