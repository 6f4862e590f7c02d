"""cnnlab: the lecture "Introduction to CNNs" as real software.

>>> import cnnlab
>>> train = cnnlab.load_dataset("digits")
>>> model = cnnlab.create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=8, widths=(16, 32))
"""

__version__ = "0.1.0"

from cnnlab.data.imageset import ImageSet  # noqa: E402
from cnnlab.data.sources import load_dataset  # noqa: E402
from cnnlab.models import create_model, list_models, summary  # noqa: E402

__all__ = ["ImageSet", "create_model", "list_models", "load_dataset", "summary", "__version__"]
