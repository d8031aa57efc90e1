import pytest

import biotorch


def pytest_collection_modifyitems(config, items):
    if biotorch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU with CuPy; none is visible on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    biotorch.manual_seed(0)
