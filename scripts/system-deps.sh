#!/usr/bin/env bash
# Debian packages the tests need: chromium for the browser tests, Pango for WeasyPrint.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for lib in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
  dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
chromium --version
