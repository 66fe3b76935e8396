// A proxyless gRPC client (@grpc/grpc-js-xds) driven over stdin/stdout, one JSON object a line.
// It runs in its own process because grpc-js-xds reads its bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG)
// once per process. Channels are kept per target, so later calls see pushed config changes on
// the same channel, as a long-running service would.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
require('@grpc/grpc-js-xds').register();

const json = {
  serialize: (v) => Buffer.from(JSON.stringify(v)),
  deserialize: (b) => JSON.parse(b.toString()),
};
const Who = grpc.makeGenericClientConstructor({
  Who: {
    path: '/fedmesh.test.Who/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
});

const clients = new Map();
function client(target) {
  let c = clients.get(target);
  if (!c) {
    c = new Who(target, grpc.credentials.createInsecure());
    clients.set(target, c);
  }
  return c;
}

function callOnce(target, deadlineMs, headers) {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers ?? {})) metadata.set(key, value);
  return new Promise((resolve) => {
    client(target).Who({}, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => {
      resolve(err ? { error: `${grpc.status[err.code]}: ${err.details}` } : { backend: res.backend });
    });
  });
}

async function calls({ target, count, deadlineMs, concurrency, metadata }) {
  const started = Date.now();
  const counts = {};
  const errors = {};
  let issued = 0;
  const worker = async () => {
    while (issued < count) {
      issued++;
      const r = await callOnce(target, deadlineMs, metadata);
      if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
      else counts[r.backend] = (counts[r.backend] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { counts, errors, elapsedMs: Date.now() - started };
}

// One call at a time until one is answered by a backend in `backends`; `at` is that answer's
// wall-clock time in ms (sub-ms precision), comparable with the parent's clock on the same host.
async function until({ target, backends, deadlineMs, timeoutMs }) {
  const started = Date.now();
  const errors = {};
  let calls = 0;
  while (Date.now() - started < timeoutMs) {
    const r = await callOnce(target, deadlineMs);
    calls++;
    if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    else if (backends.includes(r.backend)) {
      return { at: performance.timeOrigin + performance.now(), backend: r.backend, calls, errors };
    }
  }
  return { at: null, calls, errors };
}

const OPS = { calls, until };
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const msg = JSON.parse(line);
  const reply = OPS[msg.op] ? await OPS[msg.op](msg) : {};
  process.stdout.write(`${JSON.stringify({ id: msg.id, ...reply })}\n`);
});
lines.on('close', () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
