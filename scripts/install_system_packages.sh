#!/usr/bin/env bash
# System libraries for headless MuJoCo rendering (EGL, with OSMesa as a fallback where Debian
# still ships it) and the Python headers the interface build needs. Installs only what is
# missing; needs root (or sudo) only when something is.
set -euo pipefail
wanted=(libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libosmesa6)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "missing system packages: ${missing[*]} (run as root or install them)" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
installable=()
for pkg in "${missing[@]}"; do
  if apt-cache show "$pkg" >/dev/null 2>&1; then installable+=("$pkg"); else echo "note: $pkg is not available on this Debian release; skipping" >&2; fi
done
[ ${#installable[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${installable[@]}"
