// Golden bytes: the CDR that the bridge's Cyclone DDS writer sends for a
// sensor_msgs/Image and a std_msgs/Float32MultiArray must equal, byte for
// byte, what an independent ROS 2 serializer makes of the same message:
// @foxglove/rosmsg2-serialization's MessageWriter (the serializer of Foxglove
// Studio's ROS 2 bag and network support), fed the .msg definitions of
// common_interfaces written out below. Both sides carry the 4-byte
// encapsulation header (00 01 00 00: CDR, little-endian, i.e. XCDR1).
//
// Usage: node golden_test.js --dump <path to ros2_cdr_dump>
"use strict";
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const path = require("node:path");

const modules = path.join(__dirname, "node_modules");
let parse, MessageWriter, MessageReader;
try {
  ({ parse } = require(path.join(modules, "@foxglove/rosmsg")));
  ({ MessageWriter, MessageReader } = require(path.join(modules, "@foxglove/rosmsg2-serialization")));
} catch (e) {
  console.error("golden_test: the npm packages are missing; run tests/ros2/golden/npm-install.sh " +
                "(scripts/install-deps.sh does): " + e.message);
  process.exit(1);
}

const dumpIndex = process.argv.indexOf("--dump");
if (dumpIndex < 0 || !process.argv[dumpIndex + 1]) {
  console.error("usage: node golden_test.js --dump <ros2_cdr_dump>");
  process.exit(2);
}

// The .msg files of ros2/common_interfaces (comments and constants dropped),
// concatenated the way ROS 2 tools do (the main type, then each dependency).
const SEP = "\n================================================================================\n";
const TIME = "MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n";
const HEADER = "MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n";
const IMAGE =
    "std_msgs/Header header\n" +
    "uint32 height\nuint32 width\n" +
    "string encoding\n" +
    "uint8 is_bigendian\nuint32 step\n" +
    "uint8[] data\n" + SEP + HEADER + SEP + TIME;
const DIM = "MSG: std_msgs/MultiArrayDimension\nstring label\nuint32 size\nuint32 stride\n";
const LAYOUT = "MSG: std_msgs/MultiArrayLayout\nstd_msgs/MultiArrayDimension[] dim\nuint32 data_offset\n";
const FLOAT32_MULTI_ARRAY = "std_msgs/MultiArrayLayout layout\nfloat32[] data\n" + SEP + LAYOUT + SEP + DIM;

// The same values as cdr_dump.cc.
const pixels = new Uint8Array(2 * 3 * 3);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + 1) & 0xff;
const image = {
  header: { stamp: { sec: 1700000000, nanosec: 123456789 }, frame_id: "cam" },
  height: 2, width: 3, encoding: "rgb8", is_bigendian: 0, step: 9, data: pixels,
};
const array = {
  layout: {
    dim: [{ label: "rows", size: 2, stride: 6 }, { label: "cols", size: 3, stride: 3 }],
    data_offset: 0,
  },
  data: new Float32Array([0.5, -1.25, 3.0, 1e-3, -0.0, 65504.0]),
};

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const cyclone = JSON.parse(execFileSync(process.argv[dumpIndex + 1], { encoding: "utf8" }));

let failed = 0;
for (const [name, definition, message] of [
  ["image", IMAGE, image],
  ["float32_multi_array", FLOAT32_MULTI_ARRAY, array],
]) {
  const defs = parse(definition, { ros2: true });
  const expected = hex(new MessageWriter(defs).writeMessage(message));
  const actual = cyclone[name];
  try {
    assert.equal(actual.slice(0, 4), "0001", "encapsulation: CDR_LE (XCDR1)");
    assert.equal(expected.slice(0, 8), "00010000");
    const options = parseInt(actual.slice(4, 8), 16);
    const padding = options & 0x3;
    assert.equal(options & ~0x3, 0, "options other than the padding count");
    assert.equal(actual.length / 2 % 4, 0, "Cyclone pads to a multiple of 4");
    assert.equal(actual.slice(actual.length - 2 * padding), "00".repeat(padding), "padding is zeros");
    // Byte for byte, once the padding count and the padding are taken out.
    assert.equal("00010000" + actual.slice(8, actual.length - 2 * padding), expected);
    // And the independent reader reads Cyclone's bytes back as the message.
    const back = new MessageReader(defs).readMessage(Buffer.from(actual, "hex"));
    assert.equal(back.header?.frame_id ?? back.layout.dim[1].label, name === "image" ? "cam" : "cols");
    console.log(`ok ${name}: ${expected.length / 2} bytes identical` +
                (padding ? ` (Cyclone adds ${padding} padding bytes, counted in the options)` : ""));
  } catch (e) {
    failed++;
    console.error(`FAIL ${name}:\n  cyclone ${actual}\n  foxglove ${expected}\n  ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
