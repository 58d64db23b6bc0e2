#!/usr/bin/env bash
# Installs what is missing, builds, and starts tensor-ipcd in the foreground on
# your own default socket: $TENSOR_IPC_SOCKET, else
# $XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock, else /tmp/tensor-ipc-$UID/tensor-ipcd.sock.
# With the demo (the default whenever the build has examples/ cpp_producer and
# cpp_consumer), a producer of camera frames and a consumer printing rate and
# latency run beside it. Ctrl-C stops everything.
#
# Usage: scripts/run.sh [--demo | --no-demo] [--no-deps] [--build-dir DIR] [-- DAEMON_ARGS...]
#   e.g. scripts/run.sh -- --log-level debug --retention remove
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- The demo (issue 3): a producer of camera-sized frames and a consumer that
# prints rate and latency (examples/), started beside the daemon with
# TENSOR_IPC_SOCKET set to its socket. It runs by default whenever the build
# has both targets; --no-demo starts the daemon alone.
DEMO_PRODUCER_TARGET=cpp_producer
DEMO_PRODUCER_ARGS=(--name camera --rate 30)
DEMO_CONSUMER_TARGET=cpp_consumer
DEMO_CONSUMER_ARGS=(--name camera)

demo=auto deps=1 build_dir="$root/build" daemon_args=()
while (($#)); do
  case "$1" in
    --demo) demo=yes; shift ;;
    --no-demo) demo=no; shift ;;
    --no-deps) deps=0; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --) shift; daemon_args=("$@"); break ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (daemon flags go after --)" >&2; exit 2 ;;
  esac
done
if ((deps)); then "$root/scripts/install-deps.sh" --no-npm; fi

build_log=$(mktemp)
"$root/scripts/build.sh" --build-dir "$build_dir" --target tensor-ipcd | tee "$build_log"
build_dir=$(sed -n 's/^build.sh: built in //p' "$build_log" | tail -n 1)
rm -f "$build_log"

# grep reads the whole list: with -q it would stop at the first match, ninja would
# die of SIGPIPE, and under pipefail the answer would be "no" (31 of 200 runs).
has_target() { ninja -C "$build_dir" -t targets all 2>/dev/null | grep "^$1:" >/dev/null; }
if [[ $demo != no ]]; then
  if has_target "$DEMO_PRODUCER_TARGET" && has_target "$DEMO_CONSUMER_TARGET"; then
    demo=yes
    cmake --build "$build_dir" --target "$DEMO_PRODUCER_TARGET" "$DEMO_CONSUMER_TARGET"
  elif [[ $demo == yes ]]; then
    echo "run.sh: this build has no demo ($DEMO_PRODUCER_TARGET, $DEMO_CONSUMER_TARGET;" \
         "TENSORIPC_EXAMPLES=OFF?); run without --demo" >&2
    exit 2
  else
    demo=no
  fi
fi

# Where the binary of an executable target lies in the build tree.
target_file() {
  local out
  out=$(find "$build_dir" -path '*/CMakeFiles' -prune -o -type f -name "$1" -perm -u+x -print |
        head -n 1)
  [[ -n "$out" ]] || { echo "run.sh: cannot find the binary of target $1 in $build_dir" >&2; exit 1; }
  echo "$out"
}
daemon=$(target_file tensor-ipcd)

# The socket: the daemon's own flag when given, else the user's default,
# resolved as common/socket_path.cc does for a daemon started by hand.
socket=""
for ((i = 0; i < ${#daemon_args[@]}; i++)); do
  case "${daemon_args[i]}" in
    --socket) socket=${daemon_args[i + 1]:-} ;;
    --socket=*) socket=${daemon_args[i]#--socket=} ;;
  esac
done
if [[ -z "$socket" ]]; then
  if [[ -n "${TENSOR_IPC_SOCKET:-}" ]]; then
    socket=$TENSOR_IPC_SOCKET
  elif [[ -n "${XDG_RUNTIME_DIR:-}" ]]; then
    socket=$XDG_RUNTIME_DIR/tensor-ipc/tensor-ipcd.sock
  else
    socket=/tmp/tensor-ipc-$(id -u)/tensor-ipcd.sock
  fi
  daemon_args=(--socket "$socket" "${daemon_args[@]}")
fi
export TENSOR_IPC_SOCKET=$socket

# Starting a second daemon on a live socket would take it over: refuse.
if [[ -S "$socket" ]] && command -v python3 >/dev/null &&
   python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$socket" 2>/dev/null; then
  echo "run.sh: a tensor-ipcd already serves $socket; stop it first, or set TENSOR_IPC_SOCKET" >&2
  exit 1
fi

echo "run.sh: tensor-ipcd on $socket (Ctrl-C stops it)"
echo "run.sh: clients in other shells: export TENSOR_IPC_SOCKET=$socket"
if [[ $demo == no ]]; then
  # In the foreground: Ctrl-C reaches the daemon, which shuts down cleanly.
  exec "$daemon" "${daemon_args[@]}"
fi

# --- daemon + demo producer + demo consumer
pids=()
stop() {
  trap - INT TERM
  local i
  # Clients first, so the daemon sees them leave; then the daemon.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

"$daemon" "${daemon_args[@]}" &
pids+=($!)
for _ in $(seq 100); do
  [[ -S "$socket" ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "run.sh: tensor-ipcd exited at start" >&2; exit 1; }
  sleep 0.1
done
[[ -S "$socket" ]] || { echo "run.sh: tensor-ipcd made no socket in 10 s" >&2; stop; exit 1; }

"$(target_file "$DEMO_PRODUCER_TARGET")" "${DEMO_PRODUCER_ARGS[@]}" &
pids+=($!)
"$(target_file "$DEMO_CONSUMER_TARGET")" "${DEMO_CONSUMER_ARGS[@]}" &
pids+=($!)

# Run until Ctrl-C, or until one of them ends (then stop the rest).
status=0
wait -n "${pids[@]}" || status=$?
echo "run.sh: a demo process ended (status $status); stopping the rest" >&2
stop
exit "$status"
