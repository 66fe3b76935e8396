/** Child of cpu.ts: measures one mesh size and prints the point as JSON on stdout. */
import { type CpuPointConfig, measureCpuPoint } from './cpu.js';

const cfg = JSON.parse(process.argv[2]!) as CpuPointConfig;
process.stdout.write(JSON.stringify(await measureCpuPoint(cfg)));
