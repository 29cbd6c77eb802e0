#!/usr/bin/env bash
# Build one ROS 2 interface package (ament_cmake + rosidl_generate_interfaces) with plain cmake
# against the ROS 2 wheels in the venv and install it into the venv prefix, so that its messages
# import as `<package>.msg` (and `.srv`, `.action` where the package has them).
#
#   build_interfaces.sh VENV_DIR BUILD_DIR [PACKAGE_DIR]
#
# PACKAGE_DIR defaults to src/interseg_interfaces; the package name is read from its package.xml.
set -euo pipefail
USAGE="usage: build_interfaces.sh VENV_DIR BUILD_DIR [PACKAGE_DIR]"
VENV=${1:?$USAGE}
BUILD=${2:?$USAGE}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PACKAGE_DIR=${3:-$ROOT/src/interseg_interfaces}
[ -f "$PACKAGE_DIR/package.xml" ] && [ -f "$PACKAGE_DIR/CMakeLists.txt" ] \
  || { echo "build_interfaces: $PACKAGE_DIR is not a package folder (package.xml and CMakeLists.txt)" >&2; exit 1; }
PACKAGE_DIR=$(cd "$PACKAGE_DIR" && pwd)
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
PACKAGE=$(sed -n 's#.*<name>[[:space:]]*\([A-Za-z0-9_]*\)[[:space:]]*</name>.*#\1#p' "$PACKAGE_DIR/package.xml" | head -1)
[ -n "$PACKAGE" ] || { echo "build_interfaces: no <name> in $PACKAGE_DIR/package.xml" >&2; exit 1; }

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
cmake -S "$PACKAGE_DIR" -B "$BUILD" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_TESTING=OFF \
  -DPython3_EXECUTABLE="$PY" \
  -DPython3_FIND_VIRTUALENV=ONLY > "$BUILD/configure.log" 2>&1 || { tail -30 "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" > "$BUILD/build.log" 2>&1 || { tail -40 "$BUILD/build.log"; exit 1; }
cmake --install "$BUILD" > "$BUILD/install.log" 2>&1 || { tail -20 "$BUILD/install.log"; exit 1; }

# rosidl installs the Python package under lib/pythonX.Y/site-packages of the prefix: the venv's.
MODULES=()
for kind in msg srv action; do
  [ -d "$PACKAGE_DIR/$kind" ] && MODULES+=("$PACKAGE.$kind")
done
[ ${#MODULES[@]} -gt 0 ] || { echo "build_interfaces: $PACKAGE has no msg/, srv/ or action/ folder" >&2; exit 1; }
"$PY" -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" "${MODULES[@]}" \
  || { echo "build_interfaces: installed, but $PACKAGE does not import" >&2; exit 1; }
echo "$PACKAGE built and installed into $VENV"
