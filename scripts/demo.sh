#!/usr/bin/env bash
# The C++ demo: tensor-ipcd (a private one unless --socket names a running
# daemon), cpp_consumer, then cpp_producer publishing 640x480x3 float32 frames.
# The consumer prints rate, put -> callback latency and lost/bad frames each
# second. Ctrl-C, or --seconds N, stops everything; the exit status is 0 when
# the consumer saw frames and every checksum held.
#
# Usage: scripts/demo.sh [--seconds N] [--rate HZ] [--notify stream|futex] [--uint8]
#                        [--name TOPIC] [--socket PATH] [--build-dir DIR]
#   --socket PATH   use the tensor-ipcd already serving PATH (default: start one
#                   on a socket in a fresh temporary directory, with its own shm prefix)
#   --build-dir DIR where the binaries are (default: build/); built there if missing
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=0 rate=30 notify=stream name=camera socket="" build_dir="$root/build" uint8=()
while (($#)); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --rate) rate=${2:?--rate needs a number}; shift 2 ;;
    --notify) notify=${2:?--notify needs stream or futex}; shift 2 ;;
    --uint8) uint8=(--uint8); shift ;;
    --name) name=${2:?--name needs a topic}; shift 2 ;;
    --socket) socket=${2:?--socket needs a path}; shift 2 ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

daemon_bin=$build_dir/daemon/tensor-ipcd
producer_bin=$build_dir/examples/cpp_producer
consumer_bin=$build_dir/examples/cpp_consumer
if [[ ! -x $daemon_bin || ! -x $producer_bin || ! -x $consumer_bin ]]; then
  echo "demo.sh: building tensor-ipcd and the examples in $build_dir" >&2
  "$root/scripts/build.sh" --build-dir "$build_dir" \
    --target tensor-ipcd --target cpp_producer --target cpp_consumer >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tipc-demo.XXXXXX")
daemon_pid="" producer_pid="" consumer_pid="" consumer_status=""

# Stops a process with SIGTERM (SIGKILL after 10 s) and reaps it.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Producer first, then the consumer (its status is the demo's), then the daemon.
stop_all() {
  trap - INT TERM EXIT
  stop_pid "$producer_pid"
  if [[ -n $consumer_pid && -z $consumer_status ]]; then
    kill -TERM "$consumer_pid" 2>/dev/null || true
    consumer_status=0
    wait "$consumer_pid" || consumer_status=$?
  fi
  stop_pid "$daemon_pid"
  rm -rf "$tmp"
}
trap 'stop_all; exit "${consumer_status:-130}"' INT TERM
trap 'stop_all' EXIT

if [[ -z $socket ]]; then
  socket=$tmp/tensor-ipcd.sock
  "$daemon_bin" --socket "$socket" --shm-prefix "tipcdemo$$." --retention remove \
    --log-level warn &
  daemon_pid=$!
  for _ in $(seq 100); do
    [[ -S $socket ]] && break
    kill -0 "$daemon_pid" 2>/dev/null || { echo "demo.sh: tensor-ipcd exited at start" >&2; exit 1; }
    sleep 0.1
  done
  [[ -S $socket ]] || { echo "demo.sh: tensor-ipcd made no socket in 10 s" >&2; exit 1; }
  echo "demo.sh: tensor-ipcd (pid $daemon_pid) on $socket"
fi
export TENSOR_IPC_SOCKET=$socket

"$consumer_bin" --name "$name" --notify "$notify" "${uint8[@]}" &
consumer_pid=$!
"$producer_bin" --name "$name" --rate "$rate" "${uint8[@]}" &
producer_pid=$!

# Until --seconds pass (forever with 0), Ctrl-C, or a demo process ends.
start=$SECONDS
while kill -0 "$consumer_pid" 2>/dev/null && kill -0 "$producer_pid" 2>/dev/null; do
  ((seconds > 0 && SECONDS - start >= seconds)) && break
  sleep 0.2
done
if ! kill -0 "$consumer_pid" 2>/dev/null; then
  consumer_status=0
  wait "$consumer_pid" || consumer_status=$?
  echo "demo.sh: the consumer ended (status $consumer_status)" >&2
elif ! kill -0 "$producer_pid" 2>/dev/null; then
  echo "demo.sh: the producer ended; stopping" >&2
fi
stop_all
exit "$consumer_status"
