"""torch.distributed set-up for runs under torchrun: DDP over gloo (CPU) or nccl (GPU).

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them a run is a single process and none of
this does anything. Multi-node: run the same command on every node, e.g.

    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --master_addr 10.0.0.1 --master_port 29500 \
        -m training.train --config configs/baseline_bpe.toml
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist

from training.config import Device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


# set once this process has joined a process group; see `exit_process`
_process_group_used = False


class DeviceUnavailable(ValueError):
    """The device a config asks for is not on this machine; the message says what torch sees."""


def pick_device(preference: Device, local_rank: int = 0) -> torch.device:
    """The device to train on; a forced device this machine lacks is refused here, before any
    data is prepared or written (DeviceUnavailable)."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(
                'device = "cuda", but torch sees no CUDA device here; use "auto" or "cpu"'
            )
        if local_rank >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"rank {local_rank} needs CUDA device {local_rank}; torch sees "
                f"{torch.cuda.device_count()}"
            )
        return torch.device("cuda", local_rank)
    if preference == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable('device = "mps", but torch sees no MPS device here')
    return torch.device(preference)


def init_distributed(preference: Device) -> DistInfo:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(device=pick_device(preference))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    global _process_group_used
    _process_group_used = True
    return DistInfo(rank=dist.get_rank(), world_size=world_size, device=device)


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= info.world_size
    return value


def all_gather_cpu(value: torch.Tensor, info: DistInfo) -> list[torch.Tensor]:
    """Every rank's `value` (same shape and dtype on all ranks), in rank order, on the CPU."""
    if not info.enabled:
        return [value]
    local = value.to(info.device)  # nccl gathers only GPU tensors
    gathered = [torch.empty_like(local) for _ in range(info.world_size)]
    dist.all_gather(gathered, local)
    return [g.cpu() for g in gathered]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def exit_process(code: int) -> NoReturn:
    """End the process with `code`; a process that joined a process group skips the interpreter's
    finalisation.

    Why: once DDP has run over gloo, gloo's worker threads outlive `destroy_process_group`. About
    2% of 2-process torchrun runs aborted at exit ("terminate called without an active
    exception", SIGABRT in rank 1): a core dump showed the main thread finalising the interpreter
    while a gloo thread, freeing the last tensors of a finished collective, waited for the GIL.
    Nothing is left to do by then (checkpoints are fsynced and renamed, the metrics file closed),
    so flushing what Python buffers and leaving with os._exit removes the race instead of making
    it rarer. A process that never joined a group exits normally."""
    if not _process_group_used:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said on it
            pass
    os._exit(code)


def free_port() -> int:
    """A loopback port nothing listens on now (for a local torchrun's rendezvous)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(config: str | os.PathLike[str], *flags: str, nproc: int = 2) -> list[str]:
    """`torchrun --nproc_per_node nproc -m training.train --config config *flags` on one machine,
    from this interpreter's environment (the tests and the stress bench launch it the same way)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "training.train",
        "--config",
        str(config),
        *flags,
    ]
