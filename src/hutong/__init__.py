"""hutong (互通): an open interconnection hub for cross-platform commerce."""

__version__ = "0.1.0"
__all__ = ["__version__"]
