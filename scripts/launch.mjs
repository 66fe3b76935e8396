/**
 * How every bin starts its program: the compiled bundle from `npm run build` (dist/<name>.mjs,
 * no TypeScript loader, what a release, the Docker image and the systemd units run) when it is
 * there and newer than every source file; otherwise the TypeScript sources through tsx, so a
 * checkout being edited never runs a stale build.
 */
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['shared/src', 'hub/src', 'edge-agent/src'];

function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // no sources (an image with only the build)
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const s of SOURCES) walk(join(root, s));
  return newest;
}

function builtAt(name) {
  try {
    return statSync(join(root, 'dist', `${name}.mjs`)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Runs program `name` (`fedmesh-hub`, `fedmesh-agent`, `fedmeshctl`) from its build or its source. */
export async function launch(name, source) {
  const built = builtAt(name);
  let mod;
  if (built !== undefined && process.env.FEDMESH_FROM_SOURCE !== '1' && built >= newestSource()) {
    mod = await import(pathToFileURL(join(root, 'dist', `${name}.mjs`)).href);
  } else {
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch {
      console.error(
        `${name}: dist/${name}.mjs is ${built === undefined ? 'missing' : 'older than the sources'} and tsx (a development dependency) is not installed; run "npm run build"`,
      );
      process.exit(1);
    }
    register();
    mod = await import(pathToFileURL(join(root, source)).href);
  }
  await mod.main(process.argv.slice(2));
}
