/**
 * `npm run chaos [-- --faults N --seed S --pause-ms MS --log-dir DIR --log-level LEVEL --no-tmpfs]`:
 * a chaos run on the production topology (docs/chaos.md). Prints the figures and a JSON report
 * (`--report FILE`); exits 1 when an invariant fails.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { FaultKind } from './faults.js';
import { runChaos, summarize } from './index.js';

const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '100' },
    seed: { type: 'string' },
    'pause-ms': { type: 'string', default: '10000' },
    'log-dir': { type: 'string' },
    'log-level': { type: 'string' },
    'no-tmpfs': { type: 'boolean', default: false },
    report: { type: 'string' },
    kinds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(
    'npm run chaos -- [--faults N (100)] [--seed S (random)] [--pause-ms MS (10000)] [--kinds hub-kill,nats-kill,...] [--log-dir DIR] [--log-level warn|info|debug] [--no-tmpfs] [--report FILE]',
  );
  process.exit(0);
}
const faults = Number(values.faults);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(faults) || faults < 1 || !Number.isInteger(seed)) {
  console.error('chaos: --faults and --seed take whole numbers');
  process.exit(2);
}
console.log(`chaos: ${faults} faults, seed ${seed}`);
const report = await runChaos({
  faults,
  seed,
  pauseMs: Number(values['pause-ms']),
  ...(values.kinds ? { kinds: values.kinds.split(',') as FaultKind[] } : {}),
  tmpfs: !values['no-tmpfs'],
  ...(values['log-dir'] ? { logDir: values['log-dir'] } : {}),
  ...(values['log-level'] ? { logLevel: values['log-level'] } : {}),
  log: (line) => console.log(line),
});
console.log(`\n${summarize(report)}`);
for (const e of [...report.hubOwnExits, ...report.agentOwnExits]) {
  console.log(
    `\n--- ${e.process} exited on its own (${e.signal ?? `code ${e.code}`}):\n${e.tail.slice(-1500)}`,
  );
}
for (const l of report.store.lost.slice(0, 20)) console.log(`lost: ${l}`);
for (const p of report.stream.twoHashes.slice(0, 20)) console.log(`two hashes: ${p}`);
if (report.convergedAfterMs === undefined) {
  console.log(`not converged: ${JSON.stringify(report.convergence)}`);
  console.log(JSON.stringify(report.diagnostics, null, 1).slice(0, 20_000));
}
if (values.report) writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
const failed =
  report.healFailure !== undefined ||
  report.hubOwnExits.length > 0 ||
  report.agentOwnExits.length > 0 ||
  report.store.lost.length > 0 ||
  report.stream.twoHashes.length > 0 ||
  report.convergedAfterMs === undefined ||
  report.convergedAfterMs > 10_000;
process.exit(failed ? 1 : 0);
