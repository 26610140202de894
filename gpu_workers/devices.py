"""Which device a worker trains on: CUDA when present, else CPU."""
from __future__ import annotations


def best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_device() -> str:
    """A short human label, e.g. 'cuda:0 NVIDIA H100 80GB HBM3 (79.1 GiB)' or 'cpu (2 threads)'."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"cuda:0 {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    return f"cpu ({torch.get_num_threads()} threads)"
