#!/usr/bin/env node
// A small stand-in for grpcurl (which Debian does not package): everything it
// knows about a service comes from the server's reflection service, exactly
// as grpcurl's does, and request bodies are JSON turned into protobuf through
// the descriptors reflection returned.
//
//   node grpcurl.js -unix SOCKET list
//   node grpcurl.js -unix SOCKET describe tensoripc.v1.PoolMetadata
//   node grpcurl.js -unix [-d '{"name":"camera"}'] SOCKET tensoripc.v1.Broker/GetPool
//
// As a module it exports ReflectionClient, used by reflection_test.js.
'use strict';

const path = require('path');

function require_or_explain(name) {
  try {
    return require(name);
  } catch (e) {
    const dir = __dirname;
    throw new Error(
        `cannot load the npm package ${name} (${e.code || e.message}). ` +
        `Install the pinned packages with scripts/install-deps.sh, or by hand: ` +
        `(cd ${dir} && npm ci)`);
  }
}

const grpc = require_or_explain('@grpc/grpc-js');
const {GrpcReflection} = require_or_explain('grpc-js-reflection-client');

// How decoded messages are shown: grpcurl's JSON (enum names, 64-bit
// integers as strings, default values included, field names as in the .proto).
const kToObject = {longs: String, enums: String, defaults: true, arrays: true, oneofs: true};

class ReflectionClient {
  // `socket_path`: the daemon's Unix socket.
  constructor(socket_path, {deadline_ms = 5000} = {}) {
    this.target = 'unix://' + path.resolve(socket_path);
    this.credentials = grpc.credentials.createInsecure();
    this.deadline_ms = deadline_ms;
    // grpc.reflection.v1alpha: what gRPC 1.51's C++ server (and grpcurl 1.8) speak.
    this.reflection = new GrpcReflection(this.target, this.credentials, {}, 'v1alpha');
    this.client = new grpc.Client(this.target, this.credentials);
  }

  close() {
    this.client.close();
  }

  deadline() {
    return new Date(Date.now() + this.deadline_ms);
  }

  async list_services() {
    return (await this.reflection.listServices()).sort();
  }

  // The protobufjs Root holding `symbol` and every file it depends on.
  async root_for(symbol) {
    const descriptor = await this.reflection.getDescriptorBySymbol(symbol);
    return descriptor.getProtobufJsRoot();
  }

  // "pkg.Service/Method" or "pkg.Service.Method" -> protobufjs Method, resolved.
  async method(full_name) {
    const m = /^(.+)[/.]([^/.]+)$/.exec(full_name);
    if (!m) throw new Error(`not a method name: ${full_name} (expected pkg.Service/Method)`);
    const [, service_name, method_name] = m;
    const root = await this.root_for(service_name);
    const service = root.lookupService(service_name);
    const method = service.methods[method_name];
    if (!method) {
      throw new Error(`service ${service_name} has no method ${method_name}; it has ` +
                      Object.keys(service.methods).join(', '));
    }
    method.resolve();
    return {path: `/${service_name}/${method_name}`, method};
  }

  // A unary call with a JSON body, as `grpcurl -d BODY SOCKET METHOD`.
  // Resolves to the response as a plain object; rejects with the gRPC error
  // (err.code, err.details).
  async invoke(full_name, json_body = '{}') {
    const {path: rpc_path, method} = await this.method(full_name);
    if (method.requestStream || method.responseStream) {
      throw new Error(`${full_name} is a streaming method; use open_stream()`);
    }
    const request = method.resolvedRequestType.fromObject(JSON.parse(json_body));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
          rpc_path, (msg) => Buffer.from(method.resolvedRequestType.encode(msg).finish()),
          (buf) => json_form(method.resolvedResponseType,
                             method.resolvedResponseType.toObject(
                                 method.resolvedResponseType.decode(buf), kToObject)),
          request, new grpc.Metadata(), {deadline: this.deadline()},
          (err, response) => (err ? reject(err) : resolve(response)));
    });
  }

  // A bidirectional stream. Returns the grpc-js call: call.write(obj) takes a
  // plain object (as a JSON body would give), 'data' events give plain objects.
  async open_stream(full_name) {
    const {path: rpc_path, method} = await this.method(full_name);
    const req = method.resolvedRequestType;
    const res = method.resolvedResponseType;
    return this.client.makeBidiStreamRequest(
        rpc_path, (obj) => Buffer.from(req.encode(req.fromObject(obj)).finish()),
        (buf) => res.toObject(res.decode(buf), kToObject), new grpc.Metadata(), {});
  }
}

// google.protobuf.Timestamp as grpcurl prints it (protobuf's JSON mapping):
// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits.
function rfc3339(ts) {
  const seconds = Number(ts.seconds || 0);
  const nanos = Number(ts.nanos || 0);
  let text = new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  if (nanos !== 0) {
    let frac = String(nanos).padStart(9, '0');
    if (frac.endsWith('000000')) frac = frac.slice(0, 3);
    else if (frac.endsWith('000')) frac = frac.slice(0, 6);
    text += '.' + frac;
  }
  return text + 'Z';
}

// A decoded message in protobuf's JSON form: well-known types as their JSON
// mapping (Timestamp: a string), recursively; unset messages left out.
function json_form(type, obj) {
  for (const field of type.fieldsArray) {
    const value = obj[field.name];
    const sub = field.resolvedType;
    if (value === undefined || !sub || !sub.fieldsArray) continue;  // scalars, enums
    if (value === null) {
      delete obj[field.name];
      continue;
    }
    const convert = (v) => (sub.fullName === '.google.protobuf.Timestamp' ? rfc3339(v)
                                                                          : json_form(sub, v));
    obj[field.name] = field.repeated ? value.map(convert) : convert(value);
  }
  return obj;
}

// A symbol in grpcurl's `describe` form: "X is a message:" and its .proto text.
function describe(name, symbol) {
  if (!symbol) throw new Error(`Symbol not found: ${name}`);
  if (symbol.fieldsArray) {
    const lines = [`${name} is a message:`, `message ${symbol.name} {`];
    for (const f of symbol.fieldsArray) {
      const type = f.resolvedType ? f.resolvedType.fullName : f.type;
      lines.push(`  ${f.repeated ? 'repeated ' : ''}${type} ${f.name} = ${f.id};`);
    }
    lines.push('}');
    return lines.join('\n');
  }
  if (symbol.methods) {
    const lines = [`${name} is a service:`, `service ${symbol.name} {`];
    for (const m of symbol.methodsArray) {
      lines.push(`  rpc ${m.name} ( ${m.requestStream ? 'stream ' : ''}${m.requestType} ) ` +
                 `returns ( ${m.responseStream ? 'stream ' : ''}${m.responseType} );`);
    }
    lines.push('}');
    return lines.join('\n');
  }
  if (symbol.values) {
    const lines = [`${name} is an enum:`, `enum ${symbol.name} {`];
    for (const [k, v] of Object.entries(symbol.values)) lines.push(`  ${k} = ${v};`);
    lines.push('}');
    return lines.join('\n');
  }
  return JSON.stringify(symbol.toJSON(), null, 2);
}

// grpc status code number -> name (NOT_FOUND, ...).
function status_name(code) {
  for (const [name, value] of Object.entries(grpc.status)) {
    if (value === code) return name;
  }
  return String(code);
}

async function main(argv) {
  // grpcurl's grammar (Go's flag package): flags first, then the address (with
  // -unix, the socket's path), then the command; a flag after the address is
  // an extra argument, as grpcurl says ("Too many arguments").
  const usage = 'usage: grpcurl.js [-plaintext] -unix [-d JSON] SOCKET ' +
      '(list | describe SYMBOL | pkg.Service/Method)';
  let unix = false;
  let body = '{}';
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    if (argv[i] === '-unix' || argv[i] === '--unix') {
      unix = true;
    } else if (argv[i] === '-d') {
      body = argv[++i];
    } else if (argv[i] === '-plaintext') {
      // Always plaintext over the Unix socket; accepted for grpcurl habits.
    } else {
      throw new Error(`unknown flag ${argv[i]}\n${usage}`);
    }
  }
  const [socket_path, ...rest] = argv.slice(i);
  if (!unix || !socket_path || rest.length === 0) throw new Error(usage);
  const extra = rest[0] === 'describe' ? 2 : 1;
  if (rest.length > extra) throw new Error(`Too many arguments.\n${usage}`);
  const client = new ReflectionClient(socket_path);
  try {
    if (rest[0] === 'list') {
      for (const s of await client.list_services()) console.log(s);
    } else if (rest[0] === 'describe') {
      const root = await client.root_for(rest[1]);
      console.log(describe(rest[1], root.lookup(rest[1])));
    } else {
      console.log(JSON.stringify(await client.invoke(rest[0], body), null, 2));
    }
  } finally {
    client.close();
  }
}

module.exports = {ReflectionClient, status_name, grpc};

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    if (err.code !== undefined && err.details !== undefined) {
      console.error(`ERROR:\n  Code: ${status_name(err.code)}\n  Message: ${err.details}`);
    } else {
      console.error(`ERROR: ${err.message || err}`);
    }
    process.exit(1);
  });
}
