/**
 * What signed sync costs per message: Ed25519 signing on the hub and verification on the agent
 * (with the SHA-256 of the payload each needs), for a small delta, a 4 KiB one and a 64 KiB
 * snapshot chunk; and the bytes it adds on the line.
 *
 *   npx tsx test/bench/signing.ts [--iterations 5000]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  decodeBody,
  type EnvelopeMeta,
  encodeBody,
  generateSigningKey,
  KEY_ID_BYTES,
  MessageType,
  SIGNATURE_BYTES,
  signatureProblem,
  trustedKeys,
} from '@fedmesh/shared';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '5000' } } });
const N = Number(values.iterations);
const key = generateSigningKey();
const trust = trustedKeys([key.publicKey]);
const meta: EnvelopeMeta = {
  type: MessageType.Delta,
  region: 'eu-west',
  fromVersion: 41_000,
  toVersion: 41_001,
  toHash: 'ab'.repeat(32),
  codec: 'br',
  chunk: { index: 1, count: 1 },
  rawSize: 300,
};
const time = (fn: () => void): number => {
  for (let i = 0; i < Math.min(500, N); i++) fn(); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  return Number(process.hrtime.bigint() - t) / 1000 / N;
};
for (const [what, size] of [
  ['small delta (120 B payload)', 120],
  ['4 KiB delta', 4096],
  ['64 KiB snapshot chunk', 65536],
] as const) {
  const payload = Buffer.alloc(size, 7);
  const unsignedUs = time(() => encodeBody(meta, payload));
  const signUs = time(() => encodeBody(meta, payload, key));
  const body = encodeBody(meta, payload, key);
  const verifyUs = time(() => {
    const d = decodeBody('eu-west', body);
    if (signatureProblem('eu-west', d.payload, d.signature, trust)) throw new Error('does not verify');
  });
  console.log(
    `${what}: sign ${(signUs - unsignedUs).toFixed(1)} µs (encode with signature ${signUs.toFixed(1)} µs), ` +
      `decode + verify ${verifyUs.toFixed(1)} µs`,
  );
}
console.log(
  `on the line: +${KEY_ID_BYTES + SIGNATURE_BYTES} bytes a message (key id ${KEY_ID_BYTES}, signature ${SIGNATURE_BYTES}); ` +
    `${N} iterations; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
);
