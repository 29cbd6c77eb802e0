"""Install the interseg package into a prefix's ament index, as `colcon build --symlink-install`
would, so that any ROS 2 tool pointed at the prefix finds it:

- ``share/ament_index/resource_index/packages/interseg`` (the marker ament_index looks for),
- ``share/interseg/package.xml``, ``share/interseg/launch/*``, ``share/interseg/config/*``:
  symlinks into the checkout (the ``data_files`` of src/interseg/setup.py), so edits are live,
- ``lib/interseg/<executable>`` for every console script of setup.py (the node executables
  ``ros2 run`` / ``ros2 launch`` / ``interseg launch`` start): small scripts that run this
  Python on the entry point.

``pip install -e`` installs none of these (editable installs skip ``data_files``).

    .venv/bin/python scripts/install_ament_package.py [--prefix PREFIX]

PREFIX defaults to this Python's ``sys.prefix`` (the venv). Idempotent: what an earlier run
installed and the current setup.py no longer lists is removed (a manifest in
``share/interseg/`` records what was installed). Run it with the Python that should run the
nodes: the executables' first line names it.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

import setuptools

REPO = Path(__file__).resolve().parent.parent
SETUP = REPO / "src" / "interseg" / "setup.py"
MANIFEST = ".interseg_install_manifest"
WRAPPER_TAG = "# interseg node executable (scripts/install_ament_package.py)"


def read_setup(setup_py: Path) -> dict:
    """The keyword arguments setup.py passes to setuptools.setup(), without running a build."""
    captured: dict = {}
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: captured.update(kwargs)  # setup.py imports it by name
    cwd = os.getcwd()
    try:
        os.chdir(setup_py.parent)
        runpy.run_path(str(setup_py), run_name="__main__")
    finally:
        os.chdir(cwd)
        setuptools.setup = original
    if "name" not in captured:
        raise SystemExit(f"{setup_py}: setup() was not called")
    return captured


def wrapper_text(python: str, name: str, target: str) -> str:
    """The node executable. A supervisor may stop a node while its modules still load (a
    respawned one): a SIGINT then ends it as SIGINT ends a program, without a traceback, also
    when a library turned the KeyboardInterrupt into another error (numpy reports an ImportError)
    or swallowed it, and also when the node's parent left SIGINT ignored (run_node handles it
    from the node's start on)."""
    module, _, attr = target.partition(":")
    return (
        f"#!{python}\n{WRAPPER_TAG}\n"
        f"# {name} = {target}\n"
        "import os, signal, sys\n"
        "interrupted = []\n"
        "def interrupt(signum, frame):\n"
        "    interrupted.append(signum)\n"
        "    if len(interrupted) == 1:\n"
        "        raise KeyboardInterrupt\n"
        "signal.signal(signal.SIGINT, interrupt)\n"
        "try:\n"
        f"    from {module.strip()} import {attr.strip()} as main\n"
        "except BaseException:\n"
        "    if not interrupted:\n"
        "        raise\n"
        "if interrupted:\n"
        "    signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    os._exit(128 + signal.SIGINT)  # had the signal gone to another thread, not yet acted on\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )


def install(prefix: Path, setup_py: Path = SETUP, python: str | None = None) -> list[Path]:
    config = read_setup(setup_py)
    package = config["name"]
    source_dir = setup_py.parent
    python = python or os.path.abspath(sys.executable)  # the venv's python, symlink kept
    wanted: dict[Path, tuple[str, object]] = {}
    for destination, files in config.get("data_files", []):
        for relative in files:
            source = (source_dir / relative).resolve()
            if not source.is_file():
                raise SystemExit(f"{setup_py}: data file {relative} not found")
            wanted[prefix / destination / source.name] = ("link", source)
    scripts = config.get("entry_points", {}).get("console_scripts", [])
    for line in scripts:
        name, _, target = (part.strip() for part in line.partition("="))
        wanted[prefix / "lib" / package / name] = ("script", wrapper_text(python, name, target))

    share = prefix / "share" / package
    manifest = share / MANIFEST
    previous = [Path(p) for p in manifest.read_text().splitlines() if p] if manifest.is_file() else []
    for path in previous:
        if path not in wanted and (path.is_symlink() or path.is_file()):
            path.unlink()
    for path, (kind, content) in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "link":
            if path.is_symlink() and Path(os.readlink(path)) == content:
                continue
            if path.is_symlink() or path.exists():
                path.unlink()
            path.symlink_to(content)
        else:
            if path.is_symlink():
                path.unlink()
            if not path.is_file() or path.read_text() != content:
                path.write_text(content)
            path.chmod(0o755)
    share.mkdir(parents=True, exist_ok=True)
    manifest.write_text("".join(f"{p}\n" for p in sorted(wanted)))
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--prefix", type=Path, default=Path(sys.prefix), help="install prefix (default: this Python's sys.prefix)"
    )
    args = parser.parse_args(argv)
    installed = install(args.prefix.absolute())
    executables = sum(1 for p in installed if p.parent.name == "interseg" and p.parent.parent.name == "lib")
    print(
        f"interseg: ament index entry, {len(installed) - executables} share files and {executables} executables "
        f"in {args.prefix}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
