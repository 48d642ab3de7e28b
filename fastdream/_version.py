"""The version of fastdream, declared once: pyproject.toml reads it from here when it builds."""

__version__ = "0.1.0"
