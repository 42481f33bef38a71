"""pytest runs the unit tests and, under nbval, every chapter in book/ at the smoke scale.

The chapters read the scale from EVAE_LITE_SCALE; their kernels inherit this environment.
"""

import os

os.environ.setdefault("EVAE_LITE_SCALE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
# The tests compute what they test and reach no server: no pack of pretrained results
# (tests/test_pack.py turns it on against its own local server).
os.environ.setdefault("EVAE_LITE_PRETRAINED", "0")

# Helper notebooks that are not chapters (none should be committed) are not collected.
collect_ignore_glob = ["book/zz_*.ipynb", "_build/*", "_executed/*"]
