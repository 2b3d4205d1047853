#!/usr/bin/env bash
# litewitness (filippo.io/torchwood), a C2SP tlog-witness nobody here wrote: installed from the Go module
# proxy at a pinned version, run with its key in a dedicated ssh-agent, told our logs' origins and key with
# witnessctl. Used by .ci/run (install), scripts/go-verifier.sh and scripts/litewitness.ts (start, add-log, stop:
# the front of the test and the bench written in TypeScript) and by hand, as docs/integrity.md ("Run a witness for
# us") shows.
#
#   scripts/litewitness.sh install                   # .tools/go/bin/{litewitness,witnessctl} (LITEWITNESS_BIN)
#   scripts/litewitness.sh start DIR ADDR NAME       # key, agent and witness in DIR; prints the witness's vkey
#   scripts/litewitness.sh add-log DIR ORIGIN VKEY   # trust VKEY (name == ORIGIN) for the log ORIGIN
#   scripts/litewitness.sh stop DIR                  # stops what start started (by the pids it wrote)
#
# What add-checkpoint answers (v0.6.1, checked by hand and by the test): 200 with the cosignature line(s);
# 409 `text/x.tlog.size` with the size it last cosigned when `old` is not that size; 422 when the proof does
# not verify or a same-size checkpoint has another root; 400 when old > size; 403 for an unknown origin (the
# spec says 404) or a bad log signature.
set -euo pipefail

version="v0.6.1" # v0.10.0 needs a newer Go than 1.26
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LITEWITNESS_BIN:-$root/.tools/go/bin}"

install () {
  if [ -x "$bin/litewitness" ] && [ -x "$bin/witnessctl" ] && [ "$(cat "$bin/.torchwood-version" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "litewitness: Go is needed to install litewitness ${version}" >&2
    exit 1
  fi
  mkdir -p "$bin"
  # from a folder without go.mod, so that the module's own go.mod decides the dependencies
  (cd "$(mktemp -d)" && GOBIN="$bin" GOFLAGS=-mod=mod go install \
    "filippo.io/torchwood/cmd/litewitness@${version}" "filippo.io/torchwood/cmd/witnessctl@${version}")
  echo "$version" > "$bin/.torchwood-version"
}

# The witness's Ed25519 key lives only in its own ssh-agent (litewitness signs through the agent protocol,
# so a hardware agent can hold it instead); the key file is made here for tests and kept 0600 in DIR.
start () {
  local dir="$1" addr="$2" name="$3"
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/witness-key" ] || ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/witness-key"
  rm -f "$dir/agent.sock"
  ssh-agent -a "$dir/agent.sock" > "$dir/agent.env"
  sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$dir/agent.env" > "$dir/agent.pid"
  SSH_AUTH_SOCK="$dir/agent.sock" ssh-add -q "$dir/witness-key"
  local fingerprint
  fingerprint="$(ssh-keygen -lf "$dir/witness-key.pub" | awk '{print $2}')"
  "$bin/litewitness" -db "$dir/witness.db" -name "$name" -key "$fingerprint" \
    -ssh-agent "$dir/agent.sock" -listen "$addr" > "$dir/litewitness.log" 2>&1 &
  echo $! > "$dir/litewitness.pid"
  # it prints its verifier key, then listens: wait for both (or for it to die)
  for _ in $(seq 1 100); do
    if ! kill -0 "$(cat "$dir/litewitness.pid")" 2>/dev/null; then
      cat "$dir/litewitness.log" >&2
      echo "litewitness: exited at start" >&2
      stop "$dir"
      exit 1
    fi
    if grep -q 'msg=listening' "$dir/litewitness.log" && curl -s -o /dev/null "http://$addr/"; then
      # slog quotes a value that holds "=" (base64 padding may)
      sed -n 's/.*vkey="\{0,1\}\([^" ]*\)"\{0,1\}.*/\1/p' "$dir/litewitness.log" | head -n 1
      return 0
    fi
    sleep 0.1
  done
  echo "litewitness: not listening on $addr after 10 s" >&2
  stop "$dir"
  exit 1
}

add_log () {
  local dir="$1" origin="$2" vkey="$3"
  if ! "$bin/witnessctl" list-logs -db "$dir/witness.db" | grep -qF "\"origin\":\"$origin\""; then
    "$bin/witnessctl" add-log -db "$dir/witness.db" -origin "$origin"
  fi
  "$bin/witnessctl" add-key -db "$dir/witness.db" -origin "$origin" -key "$vkey"
}

# Waits for both to be gone (5 s at most), so that the caller may remove DIR without a process still writing in it.
stop () {
  local dir="$1" file pid
  for file in "$dir/litewitness.pid" "$dir/agent.pid"; do
    [ -s "$file" ] || continue
    pid="$(cat "$file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$file"
  done
}

case "${1:-}" in
  install) install ;;
  start) install; start "$2" "$3" "$4" ;;
  add-log) add_log "$2" "$3" "$4" ;;
  stop) stop "$2" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
