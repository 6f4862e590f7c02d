"""``python -m cnnlab``: the same as the ``cnnlab`` command."""

import sys

from cnnlab.launch import main

sys.exit(main())
