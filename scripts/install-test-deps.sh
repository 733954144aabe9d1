#!/usr/bin/env bash
# Installs what the tests need beyond npm packages: a real Mosquitto broker, socat for
# serial pseudo-terminals, systemd-analyze and systemd-notify for the unit file and
# readiness, and python3 (the sd_notify test receives on a unix datagram socket, which
# Node cannot bind), Chromium for the web console's browser tests, and python3-pymodbus (the
# Modbus slaves the Modbus tests poll; Debian's /usr/bin/python3 must import it). Debian
# packages; tools already present are left alone.
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The console's browser tests drive Debian's Chromium through playwright-core (no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import pymodbus' >/dev/null 2>&1 || need+=(python3-pymodbus)

if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "need root (or sudo) to install: ${need[*]}" >&2
    exit 1
  fi
fi
echo "installing: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
