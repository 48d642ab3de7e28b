"""What this install of fastdream can do: ``fastdream.info()`` and ``fastdream info``."""

from __future__ import annotations

import platform

import torch

from fastdream._version import __version__
from fastdream.models.fused import onednn_fused_conv
from fastdream.ops import backend, build_info


def info() -> dict:
    """Versions, native CPU/CUDA availability, compiled CUDA architectures, and what ``auto`` picks.

    Examples:
        >>> import fastdream as fd
        >>> sorted(fd.info())[:3]
        ['backend_cpu', 'backend_cuda', 'backend_requested']
    """
    gpu = None
    if torch.cuda.is_available():
        cap = torch.cuda.get_device_capability(0)
        gpu = {
            "name": torch.cuda.get_device_name(0),
            "capability": f"{cap[0]}.{cap[1]}",
            "covered": build_info.cuda_covers(cap),
        }
    return {
        "version": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "native_cpu": build_info.native_cpu(),
        "native_error": build_info.load_error(),
        "native_cuda": build_info.cuda_compiled(),
        "cuda_architectures": build_info.cuda_architectures(),
        "cuda_runtime": build_info.cuda_runtime_version(),
        "gpu": gpu,
        "threads": torch.get_num_threads(),
        "cpu_fused_convs": onednn_fused_conv(),
        "backend_requested": backend.requested(),
        "backend_cpu": backend.resolved("cpu"),
        "backend_cuda": backend.resolved("cuda") if torch.cuda.is_available() else "no GPU",
    }


def format_info(d: dict) -> str:
    archs = ", ".join(d["cuda_architectures"]) or "-"
    lines = [
        f"fastdream {d['version']} (torch {d['torch']}, Python {d['python']})",
        f"native CPU kernels: {'yes' if d['native_cpu'] else 'no (' + str(d['native_error']) + ')'}",
        f"native CUDA kernels: {'yes' if d['native_cuda'] else 'no'}"
        + (f", architectures {archs}, runtime {_version(d['cuda_runtime'])}" if d["native_cuda"] else ""),
    ]
    if d["gpu"]:
        g = d["gpu"]
        lines.append(
            f"GPU: {g['name']} (sm {g['capability']}), covered by the build: {'yes' if g['covered'] else 'no'}"
        )
    else:
        lines.append("GPU: none visible to torch")
    lines += [
        f"CPU threads: {d['threads']}",
        "dream backbone on CPU: "
        + (
            "ReLU6 fused into oneDNN's convolutions"
            if d["cpu_fused_convs"]
            else "plain convolutions (no oneDNN fusion in this torch)"
        ),
        f"backend: {d['backend_requested']} -> cpu: {d['backend_cpu']}, cuda: {d['backend_cuda']}",
    ]
    return "\n".join(lines)


def _version(code) -> str:
    """CUDA's version number as people write it: 13000 -> '13.0', 12080 -> '12.8'.

    Examples:
        >>> _version(13000), _version(12080), _version(None)
        ('13.0', '12.8', 'unknown')
    """
    return "unknown" if code is None else f"{code // 1000}.{code % 1000 // 10}"
