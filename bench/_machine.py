"""The machine a benchmark ran on, as its results record it: the CPU model, the CPU count, the Python version."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what :mod:`platform` says (processor, then machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """``<CPU model>, <n> CPUs, Python <version>``."""
    return f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
