#!/usr/bin/env bash
# Every command of the README's "Querying with grpcurl" section, run as
# printed (taken from README.md itself, not copied here) against the real
# tensor-ipcd with a producer of the pool `camera`, as a user who followed the
# README would type them.
#
#   readme_test.sh SOURCE_DIR TENSOR_IPCD TEST_PRODUCER
#
# grpcurl: $GRPCURL, else the first on the PATH, else ../shared/tools/grpcurl
# beside the checkout, else the node stand-in (tests/reflection/grpcurl.js);
# the test says which. The stand-in's own lines run too. Exits non-zero at the
# first command that fails or answers something else than the README says.
set -euo pipefail

src=$1 daemon_bin=$2 producer_bin=$3
readme=$src/README.md

grpcurl_bin=${GRPCURL:-}
if [[ -z $grpcurl_bin ]] && command -v grpcurl >/dev/null; then grpcurl_bin=$(command -v grpcurl); fi
if [[ -z $grpcurl_bin && -x $src/../shared/tools/grpcurl ]]; then
  grpcurl_bin=$(cd "$src/../shared/tools" && pwd)/grpcurl
fi
if [[ -n $grpcurl_bin ]]; then
  echo "readme_test: grpcurl is $grpcurl_bin ($("$grpcurl_bin" -version 2>&1 | head -1))"
else
  echo "readme_test: no grpcurl found; the node stand-in takes its place"
fi

work=$(mktemp -d /tmp/tipc-readme.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export TENSOR_IPC_SOCKET=$work/tensor-ipcd.sock
"$daemon_bin" --socket "$TENSOR_IPC_SOCKET" --shm-prefix "tipcreadme$$." --log-level warn &
pids+=($!)
for _ in $(seq 200); do [[ -S $TENSOR_IPC_SOCKET ]] && break; sleep 0.05; done
"$producer_bin" --name camera --bytes 4096 --history 4 --frames 3 --hold >"$work/producer.out" &
pids+=($!)
for _ in $(seq 400); do grep -q '^DONE' "$work/producer.out" 2>/dev/null && break; sleep 0.05; done
grep -q '^DONE' "$work/producer.out" || { echo "the producer did not start"; exit 1; }

# The section's code blocks: the first is grpcurl's, the second the stand-in's.
section=$(awk '/^## Querying with grpcurl/{on=1; next} on && /^## /{exit} on' "$readme")
block() {  # the n-th ```sh block of the section
  awk -v n="$1" '/^```sh/{k++; inside=(k==n); next} /^```/{inside=0; next} inside' <<<"$section"
}
grpcurl_block=$(block 1)
standin_block=$(block 2)
[[ -n $grpcurl_block && -n $standin_block ]] || { echo "README: the grpcurl section changed shape"; exit 1; }
prelude=$(grep -E '^(SOCK=|\[ -S)' <<<"$grpcurl_block")
[[ $(grep -c '^grpcurl ' <<<"$grpcurl_block") -ge 6 ]] || { echo "README: grpcurl lines missing"; exit 1; }

n=0
run() {  # one README line in a shell that has `grpcurl`, and its output in $work/out.$n
  n=$((n + 1))
  echo "\$ $1"
  if ! (
    cd "$src"
    grpcurl() {
      if [[ -n $grpcurl_bin ]]; then "$grpcurl_bin" "$@"; else node "$src/tests/reflection/grpcurl.js" "$@"; fi
    }
    eval "$prelude"
    eval "$1"
  ) >"$work/out.$n" 2>&1; then
    cat "$work/out.$n"
    echo "readme_test: FAILED: $1"
    exit 1
  fi
  cat "$work/out.$n"
}
expect() {  # the last output holds this text
  grep -qF -- "$1" "$work/out.$n" || { echo "readme_test: FAILED: no '$1' in that output"; exit 1; }
}

# The stand-in's lines first, while `camera` is there (the grpcurl block
# ends by deleting it).
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  run "$line"
  case $line in
    *" list") expect "tensoripc.v1.Broker" ;;
    *GetPool) expect '"name": "camera"' ;;
  esac
done <<<"$standin_block"

while IFS= read -r line; do
  [[ $line == grpcurl* ]] || continue
  run "$line"
  case $line in
    *" list") expect "tensoripc.v1.Broker"; expect "grpc.health.v1.Health" ;;
    *Health/Check*) expect '"status": "SERVING"' ;;
    *GetDaemonInfo*) expect '"version": "'; expect "\"socket_path\": \"$TENSOR_IPC_SOCKET\"" ;;
    *ListPools*) expect '"name": "camera"' ;;
    *GetPool*) expect '"name": "camera"'; expect '"created": "20'; expect '"last_publish": "20' ;;
    *describe*) expect "message PoolMetadata" ;;
    *DeletePool*) expect '{' ;;
  esac
done <<<"$grpcurl_block"

# DeletePool with force ended the producer's lease, and the pool is gone.
run 'grpcurl -plaintext -unix "$SOCK" tensoripc.v1.Broker/ListPools'
if grep -qF '"camera"' "$work/out.$n"; then echo "readme_test: FAILED: camera still listed"; exit 1; fi
echo "readme_test: $n commands as the README prints them: all answered"
