"""torchrun and DistributedDataParallel: this process's place in a launch and the process group's
lifetime, in one place for every trainer.

Started by ``torchrun --nproc_per_node N`` (or several machines with its rendezvous options), each
process trains on its share of the data; gloo connects CPU processes, nccl GPUs (each process on
the GPU of its ``LOCAL_RANK``). Without torchrun a run is rank 0 of 1 and nothing here does any
communication.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Dist:
    """This process's rank and the number of processes (rank 0 of 1 when not launched by torchrun)."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_env(cls) -> Dist:
        """What torchrun set for this process (read once, before the process group exists)."""
        rank, world = _env("RANK", 0), _env("WORLD_SIZE", 1)
        if world < 1 or not 0 <= rank < world:
            raise ValueError(f"RANK={rank} and WORLD_SIZE={world} do not make a launch; unset them outside torchrun")
        return cls(rank, world)

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes files and shows progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean of ``t`` over the processes (in place); a NaN on any rank reaches every rank."""
        if self.enabled:
            dist.all_reduce(t)
            t /= self.world
        return t

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t)
        return t

    def broadcast(self, t: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``t`` on every rank (in place): one decision for all of them."""
        if self.enabled:
            dist.broadcast(t, src=0)
        return t

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` in DistributedDataParallel when there are several processes, else itself."""
        if not self.enabled:
            return module
        return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def _env(name: str, default: int) -> int:
    """An integer torchrun sets; a clear error for any other spelling ("1 ", "one", "")."""
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.strip().isdigit():
        raise ValueError(f"the environment variable {name}={text!r} is not a count torchrun sets; unset it")
    return int(text)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def main_process() -> bool:
    """Whether this process speaks and writes for its launch: always, but under torchrun only rank 0
    (which also holds the outputs' locks for the ranks). A launch the variables do not make is
    the run's own check to say, so it counts as the main one here."""
    try:
        return Dist.from_env().main
    except ValueError:
        return True


def launch_lock(path, name: str):
    """The lock of output ``path`` (the argument ``name``; :func:`fastdream.io.output_lock`), held by
    this process for its launch (under torchrun rank 0 holds it; the ranks write their shares)."""
    from fastdream.io.lock import output_lock

    return output_lock(path, f"{name}: {path}", held=main_process())


def distributed(device: torch.device) -> Dist:
    """Joins the process group when started by torchrun (gloo on CPU, nccl on CUDA) and returns this
    process's :class:`Dist`.

    The group is made once per process and kept until the process exits: a script that trains
    twice under one torchrun launch (or trains, then dreams a folder) reuses it, where destroying
    and making it again would hang on torchrun's rendezvous store.
    """
    launch = Dist.from_env()
    if not launch.enabled:
        return launch
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing and not dist.is_initialized():  # (torch's rendezvous said "MASTER_ADDR expected", of no RANK)
        raise ValueError(
            f"WORLD_SIZE={launch.world} is set but {' and '.join(missing)} not: this process was not started by "
            "torchrun; unset RANK and WORLD_SIZE, or launch it with torchrun"
        )
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # nccl builds its communicators on the current device
        # cpu:gloo beside cuda:nccl: the trainers gather their loss means as CPU tensors, which
        # NCCL alone refuses ("No backend type associated with device type cpu").
        dist.init_process_group(backend="cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")
        atexit.register(_destroy)
    return Dist(dist.get_rank(), dist.get_world_size())


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
