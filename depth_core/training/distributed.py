"""One process or many under torchrun: ranks, the process group, agreeing on a decision,
and seeding."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> Distributed:
        """torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them this is one process.
        Gloo on the CPU, NCCL on GPUs."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))

    def broadcast_flag(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's `flag`, on every rank (so all ranks stop together)."""
        if self.world_size == 1:
            return flag
        tensor = torch.tensor([int(flag)], device=device)
        dist.broadcast(tensor, 0)
        return bool(tensor.item())

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
