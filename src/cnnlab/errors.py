"""Every error a user can fix derives from :class:`CnnlabError`; anything else is a bug.

The command line prints a ``CnnlabError`` as one line (exit code 2) and anything else with its
traceback and a "please report it" line (exit code 1). Messages say what was wrong, what was
expected and how to fix it; library messages name the Python argument (``batch_size``), the
command line swaps in the flag (``--batch-size``).

>>> from cnnlab.errors import ConfigError
>>> e = ConfigError("batch_size", -5, "a whole number of at least 1")
>>> str(e)
'batch_size=-5: expected a whole number of at least 1'
>>> e.key
'batch_size'
"""

from __future__ import annotations


class CnnlabError(Exception):
    """Base of every error the user can fix; the message says what to do."""


class ConfigError(CnnlabError, ValueError):
    """An option has a value that is not allowed.

    Args:
        key: the Python name of the option (``batch_size``, ``model.args.dropout``).
        value: the value that was given.
        expected: what is allowed, in plain words.
        hint: optional extra advice (a "did you mean", a command to run).
    """

    def __init__(self, key: str, value, expected: str, hint: str = ""):
        self.key, self.value, self.expected, self.hint = key, value, expected, hint
        super().__init__(self.format(key))

    def format(self, name: str) -> str:
        """The message with ``name`` (a Python argument or a command-line flag) in front."""
        if name.startswith("-"):  # a flag: "--batch-size -5", "--freeze" (a switch that is on)
            text = name if self.value is True else f"{name} {self.value}"
        else:
            text = f"{name}={self.value!r}"
        return f"{text}: expected {self.expected}" + (f"; {self.hint}" if self.hint else "")


class DataError(CnnlabError):
    """A data set is missing, unreadable or laid out in a way cnnlab cannot use."""


class ImageError(CnnlabError, ValueError):
    """A file could not be read as an image; the message names the file and the reason."""


class AugmentSpecError(ConfigError):
    """An augmentation spec string (``"flip,rotate=15"``) cannot be parsed."""

    def __init__(self, message: str, value: str = ""):
        CnnlabError.__init__(self, message)
        self.key, self.value, self.expected, self.hint = "augment", value, message, ""

    def format(self, name: str) -> str:
        return f"{name}: {self.expected}"


class ModelError(CnnlabError, ValueError):
    """A model name, argument or weight file does not work."""


class PretrainedError(ModelError):
    """Pretrained weights are unavailable or do not fit the architecture."""


class RunError(CnnlabError):
    """A run directory is missing, incomplete, locked or would be overwritten."""


class TrainingError(CnnlabError):
    """Training cannot go on (e.g. the loss became NaN); the message says why and what to try."""


class Interrupted(CnnlabError):
    """A run was stopped (Ctrl-C or a cancelled job); the message says how to continue it."""


__all__ = ["AugmentSpecError", "CnnlabError", "ConfigError", "DataError", "ImageError", "Interrupted",
           "ModelError", "PretrainedError", "RunError", "TrainingError"]
