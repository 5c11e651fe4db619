"""Torch devices: the one place an agent's `device` setting (auto, cpu, cuda, cuda:N) becomes a device."""

from __future__ import annotations

import torch

from rl_suite.errors import UserError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    Args:
        device: ``auto`` picks CUDA when it is available, else the CPU.

    Returns:
        The device.

    Raises:
        UserError: An unknown name, or CUDA asked for where there is none.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
        return torch.device(device)
    raise UserError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
