"""Figure finishing shared by the demo report and the benchmark report."""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, path: str | Path, dpi: int = 100) -> None:
    """Tight layout, write the PNG, free the figure (reports draw many in one process)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
