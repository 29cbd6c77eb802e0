"""The environment every ROS 2 process of the project runs in (ROS-free: only variables).

DDS must stay on this machine: the Fast DDS profile in config/ (shared memory plus UDP on
loopback, 127.0.0.1 as the only discovery peer) is used unless the caller already chose one,
and ROS_AUTOMATIC_DISCOVERY_RANGE is LOCALHOST as a second fence.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from interseg.paths import config_dir

FASTDDS_PROFILE = "fastdds_loopback.xml"


def ament_prefixes() -> list[str]:
    """Prefixes that hold ament indexes: the venv (ROS wheels and our interfaces)."""
    return [sys.prefix]


def apply_ros_environment(
    env: MutableMapping[str, str] | None = None, *, domain_id: int | None = None
) -> MutableMapping[str, str]:
    """Fill in the project's ROS settings in ``env`` (default: os.environ), keeping explicit ones."""
    env = os.environ if env is None else env
    profile = config_dir() / FASTDDS_PROFILE
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in env and "FASTRTPS_DEFAULT_PROFILES_FILE" not in env:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(int(domain_id))
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    for prefix in ament_prefixes():
        if prefix not in prefixes:
            prefixes.append(prefix)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(prefixes)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    return env


def ros_environment(base: Mapping[str, str] | None = None, *, domain_id: int | None = None) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) with the project's ROS settings applied."""
    env = dict(os.environ if base is None else base)
    apply_ros_environment(env, domain_id=domain_id)
    return env


_SEGMENT = re.compile(r"fastdds_[0-9a-f]{16}")


def remove_stale_shared_memory(directory: str | os.PathLike = "/dev/shm", min_age_s: float = 10.0) -> tuple[int, int]:
    """Remove the Fast DDS shared-memory segments of processes that no longer exist.

    Each participant's segment ``fastdds_<16 hex>`` comes with a ``_el`` file that the owning
    process holds an exclusive ``flock`` on for as long as it lives; a process killed with
    SIGKILL (a watchdog, a crash, a test) leaves both behind, with the segment's full size (tens
    of MB) taken from memory. A segment whose lock can be taken here has no owner: it is removed.
    Segments of live processes (of any user or ROS install) are locked and left alone; files
    younger than ``min_age_s`` are skipped (a participant may be between creating and locking
    them); port files (shared by all participants) are never touched. Returns (segments removed,
    bytes freed)."""
    folder = Path(directory)
    if not folder.is_dir():
        return 0, 0
    removed, freed = 0, 0
    now = time.time()
    for lock_path in folder.glob("fastdds_*_el"):
        segment = lock_path.with_name(lock_path.name[:-3])
        if not _SEGMENT.fullmatch(segment.name):
            continue
        try:
            if now - lock_path.stat().st_mtime < min_age_s:
                continue
            fd = os.open(lock_path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its process is alive
            os.close(fd)
            continue
        try:
            size = segment.stat().st_size if segment.exists() else 0
            segment.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
            removed += 1
            freed += size
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed, freed


# -- DDS Security --------------------------------------------------------------------------------
#
# rcl turns security on only for ROS_SECURITY_ENABLE exactly "true" (rcl/security.c). What
# follows depends on the keystore: with ROS_SECURITY_STRATEGY unset (Permissive) and no enclave
# folder under ROS_SECURITY_KEYSTORE, the node starts without any security and says nothing;
# with Enforce and no keystore, rclpy fails with "failed to initialize rcl: error not set"; with
# an enclave folder, rmw_fastrtps asks a Fast DDS built without security for the plugins and node
# creation fails with a multi-line "This Fast DDS version doesn't have the security libraries"
# (measured with the ROS 2 wheels). A Fast DDS built with security names its built-in
# authentication plugin, builtin.PKI-DH, in its library; the wheels' library does not.

SECURITY_PLUGIN_MARK = b"builtin.PKI-DH"
_FASTDDS_LIBRARIES = ("libfastdds.so*", "libfastrtps.so*")  # Fast DDS 3 (Kilted), 2 (Jazzy)


class SecurityUnavailable(RuntimeError):
    """ROS_SECURITY_ENABLE=true where the middleware cannot secure anything; one line."""


def security_enabled(env: Mapping[str, str] | None = None) -> bool:
    """What rcl_security_enabled decides: ROS_SECURITY_ENABLE is exactly 'true'."""
    env = os.environ if env is None else env
    return env.get("ROS_SECURITY_ENABLE") == "true"


def fastdds_library(env: Mapping[str, str] | None = None) -> Path | None:
    """The Fast DDS library the middleware of a process with ``env`` loads: the first one on
    LD_LIBRARY_PATH, then in the lib/ folder of each ament prefix (the venv for the wheels,
    /opt/ros/<distro> for a full install). None when there is none."""
    env = os.environ if env is None else env
    folders = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    folders += [str(Path(p) / "lib") for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    folders += [str(Path(p) / "lib") for p in ament_prefixes()]
    for folder in dict.fromkeys(folders):
        for pattern in _FASTDDS_LIBRARIES:
            found = sorted(p for p in Path(folder).glob(pattern) if p.is_file())
            if found:
                return found[0].resolve()
    return None


_SECURITY_SUPPORT: dict[Path, bool] = {}


def fastdds_has_security(library: Path) -> bool:
    """Whether this Fast DDS library was built with the DDS Security plugins."""
    import mmap

    if library not in _SECURITY_SUPPORT:
        with open(library, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _SECURITY_SUPPORT[library] = data.find(SECURITY_PLUGIN_MARK) >= 0
    return _SECURITY_SUPPORT[library]


def check_security_support(env: Mapping[str, str] | None = None) -> None:
    """Raise SecurityUnavailable when ``env`` asks for DDS Security (ROS_SECURITY_ENABLE=true)
    and the Fast DDS library its middleware loads has no security plugins: such a process would
    run unauthenticated and unencrypted, or fail with rcl's unclear errors. Other middlewares
    (RMW_IMPLEMENTATION not rmw_fastrtps_*) are left to themselves."""
    env = os.environ if env is None else env
    if not security_enabled(env):
        return
    if not env.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp").startswith("rmw_fastrtps"):
        return
    library = fastdds_library(env)
    if library is None or fastdds_has_security(library):
        return
    raise SecurityUnavailable(
        f"ROS_SECURITY_ENABLE=true, but the Fast DDS library here ({library}) is built without the DDS Security "
        "plugins (the ROS 2 wheels' build): nothing would be authenticated or encrypted. Unset ROS_SECURITY_ENABLE, "
        "or run on a full ROS 2 install (docker/) with a keystore from `interseg security`"
    )


def refuse_unsupported_security(program: str, env: Mapping[str, str] | None = None) -> None:
    """For a process about to speak DDS: one line on stderr and exit code 2 when
    check_security_support refuses ``env``."""
    try:
        check_security_support(env)
    except SecurityUnavailable as exc:
        print(f"{program}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
