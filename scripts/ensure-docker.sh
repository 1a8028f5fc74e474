#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io
# when dockerd is missing, start it when `docker info` does not answer, and give
# up with the tail of the engine's log after ~60 s. Idempotent; safe to re-run.
set -euo pipefail

log=${HEARTH_DOCKERD_LOG:-/var/log/dockerd.log}

say() { echo "ensure-docker: $*" >&2; }

if docker info >/dev/null 2>&1; then
  say "engine already answers"
  exit 0
fi

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
apt_install dockerd docker.io   # ~1 min

# A killed engine leaves its pid file behind and the next one refuses to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  say "removing stale /var/run/docker.pid"
  rm -f /var/run/docker.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (log: $log)"
  setsid /usr/sbin/dockerd >"$log" 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    say "engine ready"
    exit 0
  fi
  sleep 0.5
done

say "the Docker engine did not answer within 60 s; last lines of $log:"
tail -n 30 "$log" >&2 || true
exit 1
