import pytest
import torch

SIZES = [512, 1024, 2048, 4096]


def rounds_for(size: int) -> int:
    return {512: 30, 1024: 15, 2048: 8, 4096: 4}.get(size, 5)


@pytest.fixture(autouse=True)
def _threads():
    # Benchmarks use every core torch would use; report the count with the figures.
    yield torch.get_num_threads()
