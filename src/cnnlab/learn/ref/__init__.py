"""NumPy reference operations of the lecture, written to be read, checked against PyTorch.

conv2d / max_pool2d are vectorized; conv2d_loops / max_pool2d_loops are the same maths as
plain loops. Every op has a backward; tests compare all of them with torch.nn.functional.

>>> import numpy as np
>>> from cnnlab.learn.ref import LECTURE_IMAGE, conv2d
>>> x = np.array(LECTURE_IMAGE, float)[None, None]          # (N=1, C=1, 3, 3)
>>> conv2d(x, np.array([[[[0, 1], [1, 0]]]], float))[0, 0]  # (K=1, C=1, 2, 2) kernel
array([[510., 255.],
       [255., 510.]])
"""

from cnnlab.learn.ref.conv import (
                             conv2d,
                             conv2d_backward,
                             conv2d_loops,
                             max_pool2d,
                             max_pool2d_backward,
                             max_pool2d_loops,
)
from cnnlab.learn.ref.layers import (
                             batch_norm,
                             batch_norm_backward,
                             dense,
                             dense_backward,
                             dropout,
                             dropout_backward,
                             flatten,
                             normalize,
                             relu,
                             relu_backward,
                             softmax,
                             softmax_cross_entropy,
)
from cnnlab.learn.ref.trace import Step, trace, trace_conv, trace_pool, trace_text

LECTURE_IMAGE = [[255, 255, 255], [255, 0, 255], [255, 255, 255]]  # Figure 1: a 3x3 grayscale image

__all__ = ["LECTURE_IMAGE", "Step", "batch_norm", "batch_norm_backward", "conv2d", "conv2d_backward", "conv2d_loops",
           "dense", "dense_backward", "dropout", "dropout_backward", "flatten", "max_pool2d", "max_pool2d_backward",
           "max_pool2d_loops", "normalize", "relu", "relu_backward", "softmax", "softmax_cross_entropy", "trace",
           "trace_conv", "trace_pool", "trace_text"]
