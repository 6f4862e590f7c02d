"""The maths behind the studio's lecture pages (``#/learn``), one module per idea, in plain NumPy.

Every number a page shows comes from here, and everything here is built on :mod:`cnnlab.ref` (the
reference operations the tests check against PyTorch), so what a student sees is what the tests check.
The HTTP side is :mod:`cnnlab.studio.lab`; the pages are ``cnnlab/studio/static/lab/*.js``.

    images      the pictures the pages work on: built-in samples, fitted to at most 256 pixels a side
"""
