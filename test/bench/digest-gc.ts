/**
 * What keeping a digest per view entry costs a full GC, by where the digest is kept: nowhere (the
 * baseline), in a WeakMap keyed by the entry (what `shared/src/view/state.ts` did), or on the entry
 * under a non-enumerable symbol (what it does). One process per way, so that one heap does not
 * weigh on the next; entries shaped like a RemoteEndpoints view entry.
 *
 *   npx tsx test/bench/digest-gc.ts [--entries 1000000]
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { entries: { type: 'string', default: '1000000' }, way: { type: 'string' } },
});
const entries = Number(values.entries);

if (values.way) child(values.way, entries);
else {
  console.log(
    `full GC with ${entries.toLocaleString('en-US')} entries, load average ${loadavg()[0]!.toFixed(2)}`,
  );
  for (const way of ['none', 'weakmap', 'symbol']) {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', ...process.execArgv, import.meta.filename, '--way', way, '--entries', String(entries)],
      { encoding: 'utf8' },
    );
    process.stdout.write(out);
  }
}

function child(way: string, n: number): void {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const DIGEST = Symbol('digest');
  const map = new WeakMap<object, unknown>();
  const held: object[] = [];
  for (let i = 0; i < n; i++) {
    const value = {
      kind: 'RemoteEndpoints',
      metadata: { name: `svc-${i}`, namespace: 'shop' },
      spec: { gateway: { address: '198.51.100.1', port: 15443 }, healthy: i % 7 },
    };
    const digest = { key: `RemoteEndpoints/shop/svc-${i}`, digest: 'x'.repeat(32) };
    if (way === 'weakmap') map.set(value, digest);
    else if (way === 'symbol') Object.defineProperty(value, DIGEST, { value: digest, enumerable: false });
    held.push(value);
  }
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    gc();
    times.push(performance.now() - t);
  }
  const heap = process.memoryUsage().heapUsed / 2 ** 20;
  console.log(
    // The map is read after the collections, so that it (and its entries) stay alive through them.
    `${way.padEnd(8)} full GC ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')}; heap ${heap.toFixed(0)} MiB ` +
      `(${held.length} held${way === 'weakmap' ? `, in the map: ${map.has(held[0]!)}` : ''})`,
  );
}
