/**
 * A real headless Chromium for page tests, driven by playwright-core. The browser is the system's
 * (Debian's `chromium`): playwright cannot download its own builds here. It is found like
 * scripts/ensure-chromium.sh finds it: $CHROMIUM_BIN, then chromium or chromium-browser on PATH,
 * then /usr/bin/chromium. A test that needs one fails, naming the script, when there is none:
 * CI installs it, so a missing browser is a broken machine, not a reason to skip.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

const FALLBACK_BIN = '/usr/bin/chromium';
const HINT =
  "run `bash scripts/ensure-chromium.sh` (it installs Debian's chromium; .ci/run does) or set CHROMIUM_BIN";

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of an installed Chromium, or undefined. Never installs anything. */
export function findChromium(): string | undefined {
  const override = process.env.CHROMIUM_BIN;
  if (override) {
    if (!isExecutableFile(override))
      throw new Error(`CHROMIUM_BIN is set to '${override}', which is not an executable file: ${HINT}`);
    return resolve(override);
  }
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      const candidate = join(dir || '.', name);
      if (isExecutableFile(candidate)) return resolve(candidate);
    }
  }
  return isExecutableFile(FALLBACK_BIN) ? FALLBACK_BIN : undefined;
}

/** Starts headless Chromium, or throws saying what is missing and how to get it. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`no Chromium found (CHROMIUM_BIN, PATH, ${FALLBACK_BIN}): ${HINT}`);
  try {
    return await chromium.launch({
      executablePath,
      // No sandbox: tests run as root in containers, where Chromium's cannot start; the profile
      // is a fresh temporary one and the only pages are the hub's.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`Chromium at ${executablePath} did not start: ${(err as Error).message}\n${HINT}`, {
      cause: err,
    });
  }
}
