"""Packages, their share directories and executables through the ament index, as
ament_index_python, FindPackageShare and ExecutableInPackage find them."""

from __future__ import annotations

import os
from pathlib import Path


def ament_prefixes(env: dict[str, str] | None = None) -> list[str]:
    """AMENT_PREFIX_PATH of ``env`` (default os.environ), then the prefixes every interseg
    process gets (interseg.rosenv: the venv), as the processes will see it."""
    from interseg.rosenv import ament_prefixes as project_prefixes

    env = os.environ if env is None else env
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return prefixes + [p for p in project_prefixes() if p not in prefixes]


def _setup_hint(package: str) -> str:
    return " (run `make setup`: it installs interseg into the venv's ament index)" if package == "interseg" else ""


def package_prefix(package: str, env: dict[str, str] | None = None) -> Path:
    """The first prefix whose ament index lists ``package`` (get_package_prefix)."""
    prefixes = ament_prefixes(env)
    for prefix in prefixes:
        if (Path(prefix) / "share" / "ament_index" / "resource_index" / "packages" / package).is_file():
            return Path(prefix)
    raise LookupError(
        f"package '{package}' not found in the ament index of {os.pathsep.join(prefixes)}{_setup_hint(package)}"
    )


def package_share(package: str, env: dict[str, str] | None = None) -> Path:
    """<prefix>/share/<package> (get_package_share_directory)."""
    return package_prefix(package, env) / "share" / package


def resolve_executable(package: str, executable: str, env: dict[str, str] | None = None) -> list[str]:
    """Command that runs ``executable`` of ``package``: <prefix>/lib/<package>/<executable> of
    the package's ament prefix, as ros2 run / ros2 launch find it."""
    try:
        prefix = package_prefix(package, env)
    except LookupError as exc:
        raise LookupError(f"executable '{executable}' not found in package '{package}': {exc}") from None
    candidate = prefix / "lib" / package / executable
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    raise LookupError(
        f"executable '{executable}' not found in package '{package}' ({candidate.parent}){_setup_hint(package)}"
    )
