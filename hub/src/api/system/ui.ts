import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { schemas } from './schemas.js';

/**
 * The operator page's files, in `hub/ui/`, as the browser gets them. They hold no data (the page
 * reads the /v1 API with the operator's token), so they are served without one.
 */
const FILES = [
  {
    url: '/ui',
    file: 'index.html',
    type: 'text/html; charset=utf-8',
    what: 'The operator page (HTML; it reads the /v1 API with the token it asks for)',
  },
  {
    url: '/ui/app.js',
    file: 'app.js',
    type: 'text/javascript; charset=utf-8',
    what: "The operator page's script (an ES module)",
  },
  {
    url: '/ui/app.css',
    file: 'app.css',
    type: 'text/css; charset=utf-8',
    what: "The operator page's style sheet",
  },
] as const;

/**
 * Nothing inline and nothing from elsewhere: the page shows names, reasons and actors that users
 * and agents chose, so a string that slips into markup must still not run.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // `data:` for the empty icon only, which spares the browser a request for /favicon.ico.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  // The token form is read by the script; without it the form must not put the token in a URL.
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Where the page's files are: found through the package, so the sources and dist/ find the same dir. */
export function uiDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@fedmesh/hub/package.json')), 'ui');
}

/** `GET /ui` and its script and style sheet, read once at start. */
export function registerUiRoutes(app: FastifyInstance, dir = uiDir()): void {
  for (const { url, file, type, what } of FILES) {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, file));
    } catch (err) {
      throw new Error(`the operator page's ${file} is missing from ${dir}: ship hub/ui/ with the hub`, {
        cause: err,
      });
    }
    app.get(url, { schema: schemas.ui(what, type.split(';')[0]!) }, async (_req, reply) => {
      reply
        .type(type)
        .header('content-security-policy', UI_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body);
    });
  }
}
