#!/usr/bin/env bash
# Build src/interseg_interfaces with plain cmake against the ROS 2 wheels in the venv and
# install it into the venv prefix (messages importable as `interseg_interfaces.msg`).
set -euo pipefail
VENV=${1:?usage: build_interfaces.sh VENV_DIR BUILD_DIR}
BUILD=${2:?usage: build_interfaces.sh VENV_DIR BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"

PY_INCLUDE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NP_INCLUDE=$("$PY" -c 'import numpy; print(numpy.get_include())')
[ -f "$PY_INCLUDE/Python.h" ] || { echo "build_interfaces: Python headers missing at $PY_INCLUDE" >&2; exit 1; }

# The wheels' generated CMake exports name the wheel builder's Python and numpy include folders;
# point them at ours (idempotent).
{ grep -rl "/opt/python/" "$VENV/share" --include='*rosidl_generator_pyExport.cmake' 2>/dev/null || true; } | while read -r f; do
  sed -i -E \
    -e "s#/opt/python/[^/;\"]+/include/python3\.[0-9]+#${PY_INCLUDE}#g" \
    -e "s#/opt/python/[^/;\"]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${NP_INCLUDE}#g" "$f"
done

export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"
export PATH="$VENV/bin:$PATH"
mkdir -p "$BUILD"
cmake -S "$ROOT/src/interseg_interfaces" -B "$BUILD" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_TESTING=OFF \
  -DPython3_EXECUTABLE="$PY" \
  -DPython3_FIND_VIRTUALENV=ONLY > "$BUILD/configure.log" 2>&1 || { tail -30 "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" > "$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log"; exit 1; }
cmake --install "$BUILD" > "$BUILD/install.log" 2>&1 || { tail -20 "$BUILD/install.log"; exit 1; }

# rosidl installs the Python package under lib/pythonX.Y/site-packages of the prefix: the venv's.
"$PY" -c 'import interseg_interfaces.msg, interseg_interfaces.srv, interseg_interfaces.action' \
  || { echo "build_interfaces: installed, but interseg_interfaces does not import" >&2; exit 1; }
echo "interseg_interfaces built and installed into $VENV"
