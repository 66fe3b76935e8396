#!/usr/bin/env node
/**
 * The release build: `npm run build` (also run by `npm ci` through `prepare`) bundles each
 * program, with the workspace packages compiled in, into one ES module under `dist/`:
 * `dist/fedmesh-hub.mjs`, `dist/fedmesh-agent.mjs`, `dist/fedmeshctl.mjs`. npm dependencies stay
 * external (loaded from node_modules, so their own files, protos and native parts are where they
 * expect). The bins run these with no TypeScript loader; see scripts/launch.mjs.
 *
 * esbuild rather than tsc: tsc would emit one file per module and need the workspace packages
 * to point their `exports` at compiled output, which the tests and tsx (reading sources) do not
 * want. Type checking stays `npm run typecheck` (tsc --noEmit).
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let build;
try {
  ({ build } = await import('esbuild'));
} catch {
  // `npm ci --omit=dev` runs `prepare` too, without the build tools: ship a dist/ built elsewhere.
  console.error('scripts/build.mjs: esbuild is not installed (a development dependency); dist/ not built');
  process.exit(process.argv.includes('--quiet') ? 0 : 1);
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// Every npm dependency of the root and the workspaces stays external; the workspaces are bundled.
const manifests = [
  pkg,
  ...pkg.workspaces.map((w) => JSON.parse(readFileSync(join(root, w, 'package.json'), 'utf8'))),
];
const external = [
  ...new Set(manifests.flatMap((m) => Object.keys({ ...m.dependencies, ...m.optionalDependencies }))),
]
  .filter((d) => !d.startsWith('@fedmesh/'))
  .flatMap((d) => [d, `${d}/*`]);

export const PROGRAMS = {
  'fedmesh-hub': 'hub/src/main.ts',
  'fedmesh-agent': 'edge-agent/src/main.ts',
  fedmeshctl: 'hub/src/cli/main.ts',
};

// `--outdir <dir>` (inside the repository, so node_modules resolves) is for the build test.
const at = process.argv.indexOf('--outdir');
const out = at > 0 ? join(root, process.argv[at + 1]) : join(root, 'dist');
rmSync(out, { recursive: true, force: true });
const started = performance.now();
const common = {
  absWorkingDir: root,
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  sourcemap: 'linked',
  // The version is fixed at build time (shared/src/build.ts reads package.json otherwise).
  define: { FEDMESH_BUILD_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  metafile: true,
};
const { fedmeshctl, ...servers } = PROGRAMS;
const results = await Promise.all([
  // The hub and the agent share the workspace code in chunks instead of two copies.
  build({ ...common, entryPoints: servers, splitting: true, chunkNames: 'chunks/[name]-[hash]' }),
  // fedmeshctl on its own, so a CLI call loads only what the CLI uses (no NATS, no metrics).
  build({ ...common, entryPoints: { fedmeshctl } }),
]);
const result = { metafile: { inputs: Object.assign({}, ...results.map((r) => r.metafile.inputs)) } };
// A dependency compiled into the bundle would run outside its own package layout: refuse it.
const bundled = Object.keys(result.metafile.inputs).filter((f) => f.includes('node_modules/'));
if (bundled.length > 0) {
  console.error(
    `scripts/build.mjs: npm packages got bundled (declare them as dependencies): ${bundled.slice(0, 5).join(', ')}`,
  );
  process.exit(1);
}
if (!process.argv.includes('--quiet'))
  console.log(
    `built ${Object.keys(PROGRAMS)
      .map((p) => `dist/${p}.mjs`)
      .join(', ')} in ${Math.round(performance.now() - started)} ms`,
  );
