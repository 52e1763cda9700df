"""The process group of a run started by ``torchrun`` or ``accelerate launch``.

accelerate's ``PartialState`` joins the processes of a launcher over NCCL on GPUs; on a
machine without CUDA it joins them over gloo only when told ``cpu=True``, which
:func:`partial_state` does. On CPU, start the processes with ``torchrun --nproc_per_node N``
or ``accelerate launch --multi_gpu --num_processes N`` (accelerate's ``--cpu`` alone starts
one process).
"""

from __future__ import annotations


def partial_state():
    """accelerate's ``PartialState`` for this process (one process when not launched)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())
