"""Which device a worker trains on: CUDA when present, else CPU."""
from __future__ import annotations


def best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def gpu_count() -> int:
    """The GPUs this worker sees (CUDA_VISIBLE_DEVICES decides which); 0 on a CPU worker."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def describe_device() -> str:
    """A short human label, e.g. 'cuda:0 NVIDIA H100 80GB HBM3 (79.1 GiB)' or 'cpu (2 threads)'."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"cuda:0 {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    return f"cpu ({torch.get_num_threads()} threads)"


def supports_bf16(device: str) -> bool:
    """bfloat16 mixed precision where the card does it natively (Ampere and newer); CPUs train in fp32."""
    import torch

    return device == "cuda" and torch.cuda.is_bf16_supported()


def free_memory(device: str) -> None:
    """Hand cached blocks back after a run, so the next run on this worker starts with a clean card."""
    import gc

    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
