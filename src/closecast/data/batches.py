"""Mini-batches drawn from tensors that stay where they are (on the training device)."""

from __future__ import annotations

import math

import torch


class Batches:
    """Mini-batches drawn by indexing resident tensors: no per-sample Python, no collate.

    With `shuffle`, each pass draws a fresh permutation; under DDP each rank takes every
    `world`-th index of it, so ranks see disjoint samples.
    """

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle
        self.rank, self.world = rank, world
        self.generator = torch.Generator().manual_seed(seed)
        self.n = math.ceil(int(tensors[0].shape[0]) / world)

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        total = int(self.tensors[0].shape[0])
        device = self.tensors[0].device
        if self.shuffle:
            order = torch.randperm(total, generator=self.generator).to(device)
        else:
            order = torch.arange(total, device=device)
        if self.world > 1:
            # Pad by wrapping so every rank runs the same number of steps (DDP needs equal step counts).
            pad = self.n * self.world - total
            order = torch.cat([order, order[:pad]])[self.rank :: self.world]
        for i in range(0, self.n, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield tuple(t[idx] for t in self.tensors)
