#!/usr/bin/env bash
# Installs the system libraries fourdvar links against (libnetcdf, OpenBLAS/LAPACK) and the
# tools its build and tests use (pkg-config, ncdump), but only the ones that are missing.
# Safe to run repeatedly: when everything is present it prints nothing and exits 0.
set -euo pipefail

# Debian/Ubuntu package -> a file whose presence shows the package is installed.
packages=(pkg-config libnetcdf-dev libopenblas-dev netcdf-bin)
# CI (the CI variable set) also gets Chromium, for the headless-browser check of the HTML
# lesson (tests/lesson.rs); elsewhere that check runs whenever a chromium is installed.
if [ -n "${CI:-}" ]; then
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
fourdvar: this system has no apt-get, so the missing system libraries cannot be installed
automatically. Please install by hand (names differ by distribution):
  - pkg-config
  - the NetCDF C library with headers and nc-config (e.g. netcdf / netcdf-devel)
  - OpenBLAS with LAPACK and headers (e.g. openblas / openblas-devel)
  - the NetCDF command-line tools, for ncdump (e.g. netcdf-bin / netcdf)
Missing on this machine (Debian names): ${missing[*]}
MSG
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "fourdvar: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "fourdvar: installing missing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
