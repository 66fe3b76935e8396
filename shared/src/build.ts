/** The software's version, as the repository's package.json gives it: `--version`, `build` in health and status. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Set by the release build (scripts/build.mjs); absent when the sources run through tsx. */
declare const FEDMESH_BUILD_VERSION: string | undefined;

export const BUILD = Object.freeze({
  version: typeof FEDMESH_BUILD_VERSION === 'string' ? FEDMESH_BUILD_VERSION : readVersion(),
});
