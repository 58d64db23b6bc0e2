#!/usr/bin/env bash
# Two hosts on one machine: two network namespaces joined by a veth pair, with
# private addresses that exist only inside them, each running its own
# tensor-ipcd (own socket, own memory label prefix). A producer on host A, the
# bridge publishing its pool there; the bridge subscribing on host B writes
# the frames into a pool of the same name, where a consumer checks every one.
# The bridge on B is restarted mid-stream: the producer on A never notices,
# and B's consumer picks the pool up again. DDS discovery crosses the veth
# (multicast), as between real hosts.
#
#   two_hosts_test.sh TENSOR_IPCD TEST_PRODUCER TEST_CONSUMER TENSOR_IPC_ROS2
#
# Exit 77 (ctest: skipped), saying why, where namespaces cannot be made.
set -euo pipefail
daemon=$1 producer=$2 consumer=$3 bridge=$4

tag=$$
ns_a=tipc2hA$tag ns_b=tipc2hB$tag
veth_a=tva$tag veth_b=tvb$tag
if [[ $(id -u) -ne 0 ]] || ! ip netns add "$ns_a" 2>/dev/null; then
  echo "two_hosts_test: SKIPPED: cannot make network namespaces here (needs root and ip netns)"
  exit 77
fi
tmp=$(mktemp -d /tmp/tipc-2h.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "two_hosts_test: FAILED: $*" >&2
  for f in "$tmp"/*.out; do echo "--- $f"; tail -5 "$f"; done >&2
  exit 1
}
wait_for() {  # FILE TEXT [SECONDS]
  local deadline=$((SECONDS + ${3:-30}))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "no '$2' in $(basename "$1") within ${3:-30} s"
    sleep 0.1
  done
}

ip netns add "$ns_b"
net=10.231.$((tag % 250)).
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "${net}1/24" dev "$veth_a"
ip -n "$ns_b" addr add "${net}2/24" dev "$veth_b"
for side in "$ns_a:$veth_a" "$ns_b:$veth_b"; do
  ns=${side%%:*} dev=${side##*:}
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" up multicast on
  ip -n "$ns" route add 224.0.0.0/4 dev "$dev"   # DDS discovery (SPDP) is multicast
done
echo "hosts: A ${net}1 ($ns_a), B ${net}2 ($ns_b)"

domain=$((100 + tag % 100))
bytes=4096 history=16 frames=600
run_in() {  # NS NAME CMD...: in the background, output to $tmp/NAME.out
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" env -u ROS_LOCALHOST_ONLY ROS_DOMAIN_ID=$domain "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  eval "pid_$name=$!"
}
sock_a=$tmp/a.sock sock_b=$tmp/b.sock
run_in "$ns_a" daemon_a "$daemon" --socket "$sock_a" --shm-prefix "tipc2ha$tag." --log-level warn
run_in "$ns_b" daemon_b "$daemon" --socket "$sock_b" --shm-prefix "tipc2hb$tag." --log-level warn
for s in "$sock_a" "$sock_b"; do
  for _ in $(seq 200); do [[ -S $s ]] && break; sleep 0.05; done
  [[ -S $s ]] || fail "no daemon socket $s"
done

bridge_args=(--pool camera_feed --topic /tipc_two_hosts/frames --type std_msgs/msg/UInt8MultiArray
             --shape $bytes --history $history --depth 64)
# B: the subscribing bridge, the pool's producer there, and a consumer of it.
run_in "$ns_b" sub1 env TENSOR_IPC_SOCKET="$sock_b" "$bridge" subscribe "${bridge_args[@]}"
wait_for "$tmp/sub1.out" SUBSCRIBED
run_in "$ns_b" consumer env TENSOR_IPC_SOCKET="$sock_b" \
  "$consumer" --name camera_feed --bytes $bytes --history $history --mode stream --keep-last 256 \
  --bridged
wait_for "$tmp/consumer.out" READY
# A: the producer (100 Hz for 6 s) and the publishing bridge reading its pool.
run_in "$ns_a" producer env TENSOR_IPC_SOCKET="$sock_a" \
  "$producer" --name camera_feed --bytes $bytes --history $history --frames $frames --interval-us 10000
wait_for "$tmp/producer.out" READY
run_in "$ns_a" pub env TENSOR_IPC_SOCKET="$sock_a" "$bridge" publish "${bridge_args[@]}"
wait_for "$tmp/pub.out" MATCHED 60
wait_for "$tmp/sub1.out" MATCHED 60
echo "matched across the namespaces"

# Mid-stream, the bridge on B goes and a new one comes.
sleep 1.5
kill -TERM "$pid_sub1"
wait "$pid_sub1" || fail "the first subscribing bridge did not exit cleanly"
run_in "$ns_b" sub2 env TENSOR_IPC_SOCKET="$sock_b" "$bridge" subscribe "${bridge_args[@]}"
wait_for "$tmp/sub2.out" MATCHED 60
echo "bridge on B restarted"

wait_for "$tmp/producer.out" DONE 120
wait "$pid_producer" || fail "the producer on A noticed something: it did not exit 0"
sleep 1
kill -TERM "$pid_consumer"
wait_for "$tmp/consumer.out" RESULT 20
result=$(grep RESULT "$tmp/consumer.out")
echo "consumer on B: $result"
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$result"; }
(($(field intact) >= frames / 2)) || fail "fewer than half the frames arrived intact"
(($(field torn) == 0)) || fail "torn frames"
(($(field order_errors) == 0)) || fail "frames out of order"
(($(field lifecycle) >= 2)) || fail "B's consumer did not see its producer (the bridge) go and come back"
echo "two_hosts_test: passed"
