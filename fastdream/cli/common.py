"""What every command shares: the one-line error contract, and output-path checks."""

from __future__ import annotations

import argparse
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract (argparse prints the whole usage by default)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class UsageError(ValueError):
    """A problem with the command line itself, reported like the other input errors."""


def output_path(args, default: str | None) -> Path:
    """``-o``: not the input (unless ``--overwrite``), not a folder, in a folder that exists."""
    out = Path(args.output or default)
    if getattr(args, "input", None) and Path(args.input).resolve() == out.resolve() and not args.overwrite:
        raise UsageError(f"output {out} is the input file; pass --overwrite to replace it")
    if out.exists() and out.is_dir():
        raise UsageError(f"output {out} is a folder; give a file name")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    return out
