"""Learn: NumPy reference ops with traces (``ref``), figures for every lecture idea (``explain``), lesson helpers.

    ref/          conv2d, max_pool2d, batch_norm, dropout... in NumPy, loops and vectorized, with backward passes
    explain/      one figure per lecture idea, on real images or your own photo (``cnnlab explain``)
    lessons.py    fast mode, output folder and the exercise checker of the scripts in ``lessons/``
    answers.py    the exercises' answers, away from the blanks
    experiments.py  the lessons' experiments as functions (checked over seeds by the tests)

>>> from cnnlab.learn.ref import max_pool2d
>>> import numpy as np
>>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4))[0][0, 0]
array([[ 5.,  7.],
       [13., 15.]])
"""
