"""The maths behind the studio's lecture pages (``#/learn``), one module per idea, in plain NumPy.

Every number a page shows comes from here, and everything here is built on :mod:`cnnlab.ref` (the
reference operations the tests check against PyTorch), so what a student sees is what the tests check.
The HTTP side is :mod:`cnnlab.studio.lab`; the pages are ``cnnlab/studio/static/lab/*.js``.

    images         the pictures the pages work on: built-in samples, fitted to at most 256 pixels a side
    arrays         1. pixel numbers, channels, gray, flattening and the dense layer it would need
    convolution    2-3. a kernel stepped over a patch (window, products, sum), the whole picture, stride and
                   padding with the output-size formula; one kernel per colour channel and their sum
    pooling        4. max pooling step by step, and what moving the picture does to the pooled map
    augmentation   5. the engine's own augmentation, one technique at a time and all together
    normalization  6. gradient descent on the loss map of y = w x + b, raw vs normalized input; a picture's stats
    batchnorm      7. activation histograms before and after batch norm; dropout masks per step
    transfer       8. EfficientNet-Lite0 as blocks, frozen or trained, with real parameter counts
    inside         9. a trained run's kernels, feature maps at each block, prediction and Grad-CAM
    builder        10. the network builder's layer table, cnnlab and Keras code
"""
