#!/usr/bin/env node
// A proxyless gRPC client (@grpc/grpc-js-xds) of an agent's xDS server: calls
// /payments.v1.Payments/Charge on a service `count` times and prints who answered.
//
//   node deploy/local/call.mjs --xds 127.0.0.1:18000 [xds:///payments.shop] [count]
//   GRPC_XDS_BOOTSTRAP_CONFIG='{...}' node deploy/local/call.mjs [xds:///payments.shop] [count]
//
// With --xds the bootstrap is built here (insecure, node id "demo-client"); without it the one in
// GRPC_XDS_BOOTSTRAP_CONFIG (or GRPC_XDS_BOOTSTRAP, a file) is used. Exits 1 when a call fails.
import { createRequire } from 'node:module';
import { PAYMENTS_SERVICE } from './payments.mjs';

const args = process.argv.slice(2);
const xdsAt = args.indexOf('--xds');
if (xdsAt >= 0) {
  const server = args[xdsAt + 1];
  if (!server) usage('--xds needs host:port');
  args.splice(xdsAt, 2);
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: server, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    // grpc-js-xds refuses a bootstrap whose node has no locality.
    node: { id: 'demo-client', locality: {} },
  });
} else if (!process.env.GRPC_XDS_BOOTSTRAP_CONFIG && !process.env.GRPC_XDS_BOOTSTRAP) {
  usage('give --xds host:port or set GRPC_XDS_BOOTSTRAP_CONFIG');
}
const target = args[0] ?? 'xds:///payments.shop';
const count = Number(args[1] ?? 20);
if (!Number.isInteger(count) || count < 1) usage(`count must be a positive integer, not ${args[1]}`);

// The bootstrap is read when the first xds: channel is made, so the environment is set first.
const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
require('@grpc/grpc-js-xds').register();

const Payments = grpc.makeGenericClientConstructor(PAYMENTS_SERVICE);
const client = new Payments(target, grpc.credentials.createInsecure());
const answers = {};
const errors = {};
for (let i = 0; i < count; i++) {
  // Always a deadline: an unknown name fails only when it passes (grpc-js-xds waits for the listener).
  const r = await new Promise((resolve) =>
    client.Charge({}, { deadline: Date.now() + 20_000 }, (err, res) =>
      resolve(err ? { error: `${grpc.status[err.code]}: ${err.details}` } : res),
    ),
  );
  const tally = r.error ? errors : answers;
  const key = r.error ?? `${r.backend} (${r.region}, ${r.version})`;
  tally[key] = (tally[key] ?? 0) + 1;
}
client.close();
console.log(`${count} calls of ${target}:`);
for (const [who, n] of Object.entries(answers)) console.log(`  ${String(n).padStart(4)}  answered by ${who}`);
for (const [why, n] of Object.entries(errors)) console.log(`  ${String(n).padStart(4)}  failed: ${why}`);
process.exit(Object.keys(errors).length ? 1 : 0);

function usage(problem) {
  console.error(`call.mjs: ${problem}\nusage: node deploy/local/call.mjs --xds <host:port> [target] [count]`);
  process.exit(2);
}
