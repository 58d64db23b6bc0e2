#!/usr/bin/env node
// Starts the real tensor-ipcd on a temporary socket with a private shm prefix
// and talks to it the way grpcurl does: every service, method and message type
// comes from the server's reflection service, and bodies are JSON.
//
//   node reflection_test.js --daemon build/daemon/tensor-ipcd
//
// Checks: reflection lists the broker, health and reflection services; the
// health check described through reflection answers SERVING; ListPools and
// GetPool take JSON bodies; a missing pool is NOT_FOUND with a message; a pool
// claimed over a ProducerSession stream shows up with the seed's metadata;
// DeletePool removes it; SIGTERM leaves no socket and no segment.
// Exits non-zero at the first failure.
'use strict';

const assert = require('assert');
const child_process = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const {ReflectionClient, status_name, grpc} = require('./grpcurl.js');

function parse_args(argv) {
  const args = {daemon: null};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--daemon') args.daemon = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.daemon) throw new Error('usage: reflection_test.js --daemon PATH_TO_TENSOR_IPCD');
  return args;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, timeout_ms = 10000) {
  const end = Date.now() + timeout_ms;
  let last_error = null;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last_error = e;
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}` +
                  (last_error ? `: ${last_error.message}` : ''));
}

// The real daemon, its output kept for the failure message.
class Daemon {
  constructor(binary) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tipc-reflection-'));
    this.socket = path.join(this.dir, 'tensor-ipcd.sock');
    this.prefix = `tipcrefl${process.pid}.`;
    this.output = '';
    const env = {...process.env};
    delete env.TENSOR_IPC_SOCKET;
    delete env.NOTIFY_SOCKET;
    this.proc = child_process.spawn(
        binary, ['--socket', this.socket, '--shm-prefix', this.prefix, '--log-level', 'debug'],
        {env, stdio: ['ignore', 'pipe', 'pipe']});
    this.exit = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      this.exited = {code, signal};
      resolve(this.exited);
    }));
    this.proc.on('error', (e) => {
      this.output += `spawn failed: ${e.message}\n`;
    });
    this.proc.stdout.on('data', (d) => (this.output += d));
    this.proc.stderr.on('data', (d) => (this.output += d));
  }

  // The pool memory (memfds) the daemon holds, by label: one per pool.
  segments() {
    if (this.exited) return [];
    const dir = `/proc/${this.proc.pid}/fd`;
    const labels = new Set();
    for (const n of fs.readdirSync(dir)) {
      let target;
      try {
        target = fs.readlinkSync(path.join(dir, n));
      } catch (e) {
        continue;
      }
      if (target.startsWith(`/memfd:${this.prefix}`)) {
        labels.add(target.slice('/memfd:'.length).replace(/ \(deleted\)$/, ''));
      }
    }
    return [...labels].sort();
  }

  // Files under /dev/shm with this daemon's prefix: there must never be any.
  shm_files() {
    return fs.readdirSync('/dev/shm').filter((n) => n.startsWith(this.prefix));
  }

  async wait_for_socket() {
    const end = Date.now() + 10000;
    while (!fs.existsSync(this.socket)) {
      if (this.exited) throw new Error(`tensor-ipcd exited at start: ${JSON.stringify(this.exited)}`);
      if (Date.now() > end) throw new Error(`tensor-ipcd made no socket ${this.socket} in 10 s`);
      await sleep(20);
    }
  }

  async terminate() {
    if (!this.exited) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const result = await this.exit;
    clearTimeout(timer);
    return result;
  }

  cleanup() {
    if (!this.exited) this.proc.kill('SIGKILL');
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

function step(name) {
  console.log(`-- ${name}`);
}

async function expect_status(promise, code, what) {
  try {
    const v = await promise;
    assert.fail(`${what}: expected ${status_name(code)}, got a response ${JSON.stringify(v)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.strictEqual(status_name(err.code), status_name(code),
                       `${what}: expected ${status_name(code)}, got ${status_name(err.code)}: ` +
                       `${err.details || err.message}`);
    return err;
  }
}

async function run(daemon) {
  await daemon.wait_for_socket();
  const client = new ReflectionClient(daemon.socket);
  try {
    step('list services through reflection');
    const services = await eventually('reflection to answer', () => client.list_services());
    console.log(`   ${services.join(', ')}`);
    for (const s of ['tensoripc.v1.Broker', 'grpc.health.v1.Health',
                     'grpc.reflection.v1alpha.ServerReflection']) {
      assert.ok(services.includes(s), `reflection does not list ${s}; it lists ${services}`);
    }

    step('describe tensoripc.v1.PoolMetadata: the seed\'s fields');
    const root = await client.root_for('tensoripc.v1.PoolMetadata');
    const fields = Object.keys(root.lookupType('tensoripc.v1.PoolMetadata').fields);
    for (const f of ['name', 'shape', 'dtype_str', 'backend_type', 'history_len', 'device',
                     'element_size', 'total_size', 'shm_name', 'creator_pid', 'payload_json']) {
      assert.ok(fields.includes(f), `PoolMetadata lacks ${f}; it has ${fields}`);
    }

    step('grpc.health.v1.Health/Check -> SERVING');
    const health = await client.invoke('grpc.health.v1.Health/Check', '{}');
    assert.strictEqual(health.status, 'SERVING', `health: ${JSON.stringify(health)}`);

    step('tensoripc.v1.Broker/ListPools {} -> no pools');
    const empty = await client.invoke('tensoripc.v1.Broker/ListPools', '{}');
    assert.deepStrictEqual(empty.pools, [], `a fresh daemon lists pools: ${JSON.stringify(empty)}`);

    step('tensoripc.v1.Broker/GetPool {"name":"camera"} -> NOT_FOUND with a message');
    const not_found = await expect_status(
        client.invoke('tensoripc.v1.Broker/GetPool', '{"name":"camera"}'), grpc.status.NOT_FOUND,
        'GetPool of a missing pool');
    assert.ok(/camera/.test(not_found.details),
              `the NOT_FOUND message should name the pool: "${not_found.details}"`);
    console.log(`   ${status_name(not_found.code)}: ${not_found.details}`);

    step('ProducerSession: claim "camera" with a JSON body');
    const session = await client.open_stream('tensoripc.v1.Broker/ProducerSession');
    const session_ended = new Promise((resolve) => {
      session.on('error', (e) => resolve(e));
      session.on('end', () => resolve(null));
    });
    const granted = new Promise((resolve, reject) => {
      session.once('data', resolve);
      session.once('error', reject);
    });
    session.write({claim: {
      metadata: {name: 'camera', shape: [480, 640, 3], dtype_str: 'uint8', backend_type: 'numpy',
                 history_len: 4, device: 'cpu'},
      pid: process.pid,
    }});
    const event = await granted;
    assert.ok(event.granted, `first ProducerEvent is not granted: ${JSON.stringify(event)}`);
    assert.strictEqual(event.granted.metadata.total_size, String(480 * 640 * 3 * 4));

    step('tensoripc.v1.Broker/GetPool {"name":"camera"} -> the pool');
    const info = await client.invoke('tensoripc.v1.Broker/GetPool', '{"name":"camera"}');
    assert.strictEqual(info.metadata.name, 'camera');
    assert.deepStrictEqual(info.metadata.shape, ['480', '640', '3']);
    assert.strictEqual(info.metadata.dtype_str, 'uint8');
    assert.strictEqual(info.metadata.history_len, 4);
    assert.strictEqual(info.metadata.element_size, '1');
    assert.ok(info.metadata.shm_name.length > 0, 'GetPool: empty shm_name');
    assert.strictEqual(info.stats.producer_pid, process.pid);
    assert.strictEqual(daemon.segments().length, 1,
                       `one pool's memory under ${daemon.prefix} expected: ${daemon.segments()}`);
    assert.deepStrictEqual(daemon.shm_files(), [], 'a pool has a name in /dev/shm');
    assert.strictEqual(info.stats.owner_uid ?? 0, process.getuid(), 'GetPool: owner_uid');

    const listed = await client.invoke('tensoripc.v1.Broker/ListPools', '{}');
    assert.deepStrictEqual(listed.pools.map((p) => p.metadata.name), ['camera']);

    step('end the session: the lease is freed');
    session.end();
    await session_ended;
    await eventually('producer_pid 0 after the session ended', async () => {
      const p = await client.invoke('tensoripc.v1.Broker/GetPool', '{"name":"camera"}');
      return p.stats.producer_pid === 0;
    });

    step('tensoripc.v1.Broker/DeletePool {"name":"camera"} -> gone');
    await client.invoke('tensoripc.v1.Broker/DeletePool', '{"name":"camera"}');
    await expect_status(client.invoke('tensoripc.v1.Broker/GetPool', '{"name":"camera"}'),
                        grpc.status.NOT_FOUND, 'GetPool after DeletePool');
    assert.deepStrictEqual(daemon.segments(), [], 'DeletePool left the pool\'s memory');
  } finally {
    client.close();
  }

  step('SIGTERM: clean exit, no socket, no file in /dev/shm');
  const exit = await daemon.terminate();
  assert.deepStrictEqual(exit, {code: 0, signal: null}, `tensor-ipcd exit: ${JSON.stringify(exit)}`);
  assert.ok(!fs.existsSync(daemon.socket), `socket ${daemon.socket} left behind`);
  assert.ok(!fs.existsSync(`${daemon.socket}.fd`), `socket ${daemon.socket}.fd left behind`);
  assert.deepStrictEqual(daemon.shm_files(), [], 'files left in /dev/shm');
}

async function main() {
  const args = parse_args(process.argv.slice(2));
  const daemon = new Daemon(args.daemon);
  const watchdog = setTimeout(() => {
    console.error('FAIL: the whole test took over 60 s');
    daemon.cleanup();
    process.exit(1);
  }, 60000);
  try {
    await run(daemon);
    console.log('PASS: reflection, health, JSON bodies and clean shutdown');
  } catch (err) {
    console.error(`FAIL: ${err.message || err}`);
    if (err.code !== undefined) console.error(`  grpc status ${status_name(err.code)}: ${err.details}`);
    console.error(`--- tensor-ipcd output:\n${daemon.output}---`);
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    daemon.cleanup();
  }
}

main();
