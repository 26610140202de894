"""What a method needs to train data-parallel under torchrun: which process this is, the share of
a batch it trains on, numbers averaged across processes, tensors shared from the writer. Every
function is a no-op in a single process (no process group), so a method calls them unconditionally.
Not a method itself; no Django.

The process of global rank 0 is the writer: it alone reports to the run's hooks, saves checkpoints
and the model (training/methods/common/rank.py starts every process and gives the others silent hooks).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_writer() -> bool:
    return world()[0] == 0


def barrier() -> None:
    import torch.distributed as dist

    if world()[1] > 1:
        dist.barrier()


def wrap(module: Any) -> Any:
    """`module` in DistributedDataParallel when there are several processes: gradients are averaged
    across them in backward, so every process takes the same optimizer step. Parameters start as
    rank 0's (DDP broadcasts them)."""
    if world()[1] == 1:
        return module
    import torch

    return torch.nn.parallel.DistributedDataParallel(module)


def my_share(indices: Any) -> Any:
    """This process's share of a global batch that every process drew alike from the same seed:
    every world-th row from its rank. What a DistributedSampler does for an epoch's permutation, for
    batches drawn with replacement; together the processes train on exactly the global batch."""
    rank, size = world()
    return indices[rank::size]


def mean_across(values: Mapping[str, float]) -> dict[str, float]:
    """Each number averaged over the processes: the loss of the global batch, not of one share."""
    rank, size = world()
    if size == 1:
        return dict(values)
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / size for k, v in zip(keys, t.tolist())}


def agree(value: Any) -> Any:
    """The writer's `value` on every process (a small picklable object), e.g. whether a cache exists."""
    if world()[1] == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_rows(compute: Any, n: int) -> Any:
    """Rows 0..n-1 of a (n, ...) float tensor, each process computing its contiguous block with
    `compute(start, stop)`; every process gets the whole tensor."""
    rank, size = world()
    if size == 1:
        return compute(0, n)
    import torch
    import torch.distributed as dist

    block = -(-n // size)
    start, stop = min(rank * block, n), min((rank + 1) * block, n)
    mine = compute(start, stop) if stop > start else None
    shape = agree(tuple(mine.shape[1:]) if mine is not None else None)  # rank 0 always has rows
    padded = torch.zeros((block, *shape), dtype=torch.float32)
    if mine is not None:
        padded[: stop - start] = mine
    padded = _on_backend_device(padded)
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([p.cpu() for p in parts])[:n]


def share_tensor(tensor: Any) -> Any:
    """The writer's tensor on every process (others pass None)."""
    if world()[1] == 1:
        return tensor
    import torch
    import torch.distributed as dist

    shape = agree(tuple(tensor.shape) if tensor is not None else None)
    box = tensor.float() if tensor is not None else torch.empty(shape, dtype=torch.float32)
    box = _on_backend_device(box)
    dist.broadcast(box, src=0)
    return box.cpu()


def share_weights(module: Any) -> Any:
    """`module` with the writer's weights on every process. A stage that starts from a model the
    writer saved (Janus's SFT model, a tracker's last step) loads it on the writer only: the others
    load the base model, the same architecture, and take its weights here, so no process reads a
    folder that another host wrote. Also what DPO's frozen reference is copied from, which DDP
    would not align."""
    if world()[1] == 1:
        return module
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in module.state_dict().values():
            box = _on_backend_device(tensor)
            dist.broadcast(box, src=0)
            if box is not tensor:
                tensor.copy_(box)
    return module


def _on_backend_device(t: Any) -> Any:
    """NCCL moves CUDA tensors only; gloo CPU ones."""
    import torch
    import torch.distributed as dist

    return t.cuda() if dist.get_backend() == "nccl" else t.to(torch.device("cpu"))
