#!/usr/bin/env bash
# Installs what the test suite needs and this machine lacks; does nothing when all is there.
# `cargo xtask ci` runs it first. Debian packages through apt-get (as root, or with sudo), the
# Helm renderer into a venv under the target directory.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 \
  || [ -n "${ALERTMANAGER_BIN:-}" ] || need+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The scaled-out store tests start a throwaway PostgreSQL cluster.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
# The web console's tests (and `cargo xtask screenshots`) drive a real headless Chromium.
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_BIN:-}" ] || need+=(chromium)
# The API fuzz run and the chart tests install their Python tools into venvs.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "error: the tests need ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
      exit 1
    }
    sudo_cmd="sudo"
  fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y --no-install-recommends "${need[@]}"
  # The Debian packages start services on install; the tests run their own instances.
  if command -v systemctl >/dev/null 2>&1; then
    $sudo_cmd systemctl stop prometheus-alertmanager prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
fi
# The Helm chart tests render deploy/helm with Helm's own template engine: helm-python-sdk
# bundles the Helm Go SDK (no helm binary needed).
helm_venv="${CARGO_TARGET_DIR:-target}/helm-venv"
helm_sdk=0.2.2
if ! "$helm_venv/bin/python" -c "import sys, helm_python; sys.exit(helm_python.__version__ != '$helm_sdk')" >/dev/null 2>&1; then
  echo "installing: helm-python-sdk $helm_sdk into $helm_venv"
  python3 -m venv "$helm_venv"
  "$helm_venv/bin/pip" install --quiet --disable-pip-version-check "helm-python-sdk==$helm_sdk"
fi
