// The demo's payments backend: a real gRPC server on 127.0.0.1 with the gRPC health service
// (grpc.health.v1, what the agent's `check: {grpc: true}` asks) and one method,
// /payments.v1.Payments/Charge, that says which backend answered. Messages are JSON, so that
// neither side needs a .proto; deploy/local/call.mjs is its client.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { HealthImplementation } = require('grpc-health-check');

const json = {
  serialize: (v) => Buffer.from(JSON.stringify(v)),
  deserialize: (b) => JSON.parse(b.toString()),
};

export const PAYMENTS_SERVICE = {
  Charge: {
    path: '/payments.v1.Payments/Charge',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

/** Starts one backend on a free port; `answer` is what Charge returns (who answered). */
export async function startPaymentsBackend(answer) {
  const server = new grpc.Server();
  new HealthImplementation({ '': 'SERVING' }).addToServer(server);
  server.addService(PAYMENTS_SERVICE, {
    Charge: (_call, callback) => callback(null, answer),
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
