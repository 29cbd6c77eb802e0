"""Every module of the interseg package stays under MAX_LINES lines: a module that grows past it
holds more than one job and is split by job (as the benchmark, the launch-file reader, the store
and the trainer were)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "interseg" / "interseg"
MAX_LINES = 450


def test_every_module_is_under_the_line_limit():
    sizes = {path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50  # the package was found
    too_long = {name: lines for name, lines in sizes.items() if lines >= MAX_LINES}
    assert not too_long, f"modules of {MAX_LINES} lines or more (split them by job): {too_long}"
