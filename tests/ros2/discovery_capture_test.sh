#!/usr/bin/env bash
# What the bridge puts on the wire, as an independent decoder (tshark's RTPS
# dissector) reads it: in a network namespace of its own (nothing else on
# its loopback), a pool published as std_msgs/UInt8MultiArray and a
# subscribing bridge matched to it, captured on lo, must show
#   - the ROS topic name with ROS 2's prefix: rt/tipc_capture/frames,
#   - the dds_ type name: std_msgs::msg::dds_::UInt8MultiArray_,
#   - XCDR1 as the only data representation offered (never XCDR2; no
#     PID_DATA_REPRESENTATION at all also means XCDR1, which Cyclone 0.10 does),
#   - user data from a writer whose entity kind says "no key" (0x03),
#     encapsulated as plain CDR (0x0000 or 0x0001; Cyclone pads, which the
#     options field says, as XTypes allows).
#
#   discovery_capture_test.sh TSHARK TENSOR_IPCD TEST_PRODUCER TENSOR_IPC_ROS2
#
# Exit 77 (ctest: skipped) where tshark or namespaces are missing.
set -euo pipefail
tshark=$1 daemon=$2 producer=$3 bridge=$4
[[ -x $tshark ]] || { echo "discovery_capture_test: SKIPPED: no tshark (apt-get install tshark)"; exit 77; }
ns=tipccap$$
if [[ $(id -u) -ne 0 ]] || ! ip netns add "$ns" 2>/dev/null; then
  echo "discovery_capture_test: SKIPPED: cannot make a network namespace here (needs root)"
  exit 77
fi
tmp=$(mktemp -d /tmp/tipc-cap.XXXXXX)
chmod 0755 "$tmp"  # tshark may drop to another user to write the capture
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  if [[ -n ${TIPC_KEEP_CAPTURE:-} ]]; then cp "$tmp/rtps.pcap" "$TIPC_KEEP_CAPTURE" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "discovery_capture_test: FAILED: $*" >&2
  for f in "$tmp"/*.out; do echo "--- $f"; tail -5 "$f"; done >&2
  exit 1
}
ip -n "$ns" link set lo up
in_ns() {  # NAME CMD...
  local name=$1
  shift
  ip netns exec "$ns" env ROS_LOCALHOST_ONLY=1 ROS_DOMAIN_ID=7 TENSOR_IPC_SOCKET="$tmp/d.sock" \
    "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
}
wait_for() {
  local deadline=$((SECONDS + 30))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "no '$2' in $(basename "$1")"
    sleep 0.1
  done
}

in_ns capture "$tshark" -i lo -f udp -w "$tmp/rtps.pcap"
wait_for "$tmp/capture.out" "Capturing on"  # discovery is sent once: capture from the start
sleep 0.5
in_ns daemon "$daemon" --socket "$tmp/d.sock" --shm-prefix "tipccap$$." --log-level warn
for _ in $(seq 200); do [[ -S $tmp/d.sock ]] && break; sleep 0.05; done
args=(--topic /tipc_capture/frames --type std_msgs/msg/UInt8MultiArray --shape 2304 --history 4)
in_ns sub "$bridge" subscribe --pool camera_in "${args[@]}"
wait_for "$tmp/sub.out" SUBSCRIBED
in_ns producer "$producer" --name camera_out --bytes 2304 --history 4 --frames 50 \
  --interval-us 20000 --hold
wait_for "$tmp/producer.out" READY
in_ns pub "$bridge" publish --pool camera_out "${args[@]}" --frames 20
wait_for "$tmp/pub.out" MATCHED
wait_for "$tmp/sub.out" MATCHED
wait_for "$tmp/pub.out" '"published"'
sleep 0.5
kill -INT "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true

# tshark's capture helper may still be writing the file when tshark exits.
decode() {
  "$tshark" -r "$tmp/rtps.pcap" -Y rtps -T fields -E separator='|' \
    -e rtps.param.topicName -e rtps.param.typeName -e rtps.param.data_representation \
    -e rtps.sm.wrEntityId.entityKind -e rtps.param.serialize.encap_kind 2>/dev/null || true
}
decoded=$(decode)
has_all() {  # discovery of our topic, and user data from a no-key writer
  grep -q 'tipc_capture' <<<"$decoded" &&
    awk -F'|' '$4 !~ /0xc/ && $4 ~ /0x03/ && $5 != "" {found = 1} END {exit !found}' <<<"$decoded"
}
for _ in $(seq 100); do
  has_all && break
  sleep 0.1
  decoded=$(decode)
done
[[ -n $decoded ]] || fail "no RTPS in the capture"
topics=$(cut -d'|' -f1 <<<"$decoded" | tr ',' '\n' | sort -u | grep -v '^$' || true)
types=$(cut -d'|' -f2 <<<"$decoded" | tr ',' '\n' | sort -u | grep -v '^$' || true)
echo "topics seen: $(tr '\n' ' ' <<<"$topics")"
echo "types seen: $(tr '\n' ' ' <<<"$types")"
grep -qx 'rt/tipc_capture/frames' <<<"$topics" || fail "no rt/tipc_capture/frames in discovery"
grep -qx 'std_msgs::msg::dds_::UInt8MultiArray_' <<<"$types" ||
  fail "no std_msgs::msg::dds_::UInt8MultiArray_"
# Endpoint discovery of our topic: the data representations offered.
reps=$(awk -F'|' '$1 ~ /tipc_capture/ {print $3}' <<<"$decoded" | tr ',' '\n' | sort -u | grep -v '^$' || true)
echo "data representations offered on the topic: ${reps:-none given, so XCDR1}"
[[ $(grep -vx '0' <<<"$reps" || true) == "" ]] || fail "a representation other than XCDR1 (0) is offered"
# User data (rows whose writers are all application-defined, not the built-in
# discovery endpoints 0xc2/0xc3): from writers of kind 0x03 (no key) only,
# plain CDR (CDR_LE 0x0001 or CDR_BE 0x0000).
user=$(awk -F'|' '$4 !~ /0xc/ && $5 != "" {print $4 "|" $5}' <<<"$decoded" | sort -u)
echo "user data (writer kind | encapsulation): $(tr '\n' ' ' <<<"$user")"
grep -q '0x03' <<<"$user" || fail "no user data from a no-key writer in the capture"
# A row may hold several submessages (kinds and encapsulations comma-joined).
kinds=$(awk -F'|' '$4 !~ /0xc/ && $5 != "" {print $4}' <<<"$decoded" | tr ',' '\n' | sort -u)
encaps=$(awk -F'|' '$4 !~ /0xc/ && $5 != "" {print $5}' <<<"$decoded" | tr ',' '\n' | sort -u)
grep -qvx '0x03' <<<"$kinds" && fail "user data from a writer of kind $(tr '\n' ' ' <<<"$kinds")"
grep -qvxE '0x000[01]' <<<"$encaps" && fail "user data encapsulated as $(tr '\n' ' ' <<<"$encaps")"
echo "discovery_capture_test: passed"
