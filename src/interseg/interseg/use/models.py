"""Opening a network file for `interseg segment` and `interseg evaluate-images`: a trainer checkpoint
or a file written by `interseg export-model` (ONNX, TorchScript)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from interseg.learning.segmenter import Segmenter


def model_errors() -> tuple[type[Exception], ...]:
    """What :func:`load` raises for a file that is not a usable network."""
    from interseg.learning.checkpoint import CheckpointError
    from interseg.learning.export import ExportError

    return (CheckpointError, ExportError)


def load(path, resize: bool = True, warn: Callable[[str], None] | None = None) -> Segmenter:
    """A checkpoint or an exported network as a :class:`Segmenter`; raises one of ``model_errors()``."""
    from interseg.learning.export import ExportedPredictor, is_exported
    from interseg.learning.predictor import HypothesisPredictor

    if is_exported(path):
        return Segmenter(ExportedPredictor(path), resize, warn)
    return Segmenter(HypothesisPredictor.from_checkpoint(path), resize, warn)


def open_for_command(prog: str, path, resize: bool, out: Path, warnings: list[str]) -> Segmenter | None:
    """The network of a command that writes overlays and label images under ``out`` (created):
    None, after one line on stderr, when ``path`` is not a network; resize warnings are printed
    and collected in ``warnings``."""

    def warn(message: str) -> None:
        warnings.append(message)
        print(f"{prog}: warning: {message}", file=sys.stderr)

    try:
        segmenter = load(path, resize=resize, warn=warn)
    except model_errors() as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    (out / "overlays").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    return segmenter
