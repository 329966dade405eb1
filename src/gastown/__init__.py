"""Gas Town: a town of coding agents working beads in parallel on your repositories."""

__version__ = "0.1.0"
