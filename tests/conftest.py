import os

import pytest


@pytest.fixture
def data_dir():
    """The offline data directory (CI: ../shared/data); tests needing real data skip without."""
    d = os.environ.get("EVAE_LITE_DATA")
    if not d:
        pytest.skip("EVAE_LITE_DATA is not set: no offline copy of the data sets")
    return d
