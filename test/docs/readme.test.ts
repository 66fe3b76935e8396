/**
 * The README's flag tables are checked against the programs' own `--help` (the source of truth):
 * every flag in one is in the other, with the same environment variable and default. And the
 * docs link only inside the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_HELP } from '../../edge-agent/src/config.js';
import { HUB_HELP } from '../../hub/src/config.js';

interface Flag {
  env?: string;
  default?: string;
}

/** `--flag` → its env var and `[default]`, read from a help text (continuation lines included). */
function flagsOfHelp(help: string): Map<string, Flag> {
  const out = new Map<string, Flag>();
  let current: Flag | undefined;
  for (const line of help.split('\n')) {
    const flag = line.match(/^\s{2}(?:-\w, )?(--[a-z][a-z-]*)/)?.[1];
    if (flag) {
      current = {};
      out.set(flag, current);
    } else if (!/^\s{4,}/.test(line)) {
      current = undefined; // a paragraph after the options
    }
    if (!current) continue;
    // The last one on the line: a description may name a stream (FEDMESH_AUDIT) first.
    const env = [...line.matchAll(/\b(FEDMESH_[A-Z_]+)\b/g)].at(-1)?.[1];
    if (env && !current.env) current.env = env;
    const def = line.match(/\[([^\]]+)\]\s*$/)?.[1];
    if (def && !current.default) current.default = def;
  }
  out.delete('--help');
  return out;
}

/** The rows `| \`--flag\` | \`ENV\` | \`default\` | …` of the README section that starts at `heading`. */
function flagsOfReadme(readme: string, heading: string): Map<string, Flag> {
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README has a "${heading}" section`).toBeGreaterThan(0);
  const next = readme.slice(start + heading.length + 2).search(/\n##+ /);
  const section = readme.slice(start, next < 0 ? undefined : start + heading.length + 2 + next);
  const out = new Map<string, Flag>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `--'))) {
    const cells = row.split('|').map((c) => c.trim());
    const flag = cells[1]!.replace(/`/g, '');
    const env = cells[2]!.replace(/`/g, '');
    const def = cells[3]!.replace(/`/g, '');
    out.set(flag, { ...(env ? { env } : {}), ...(def ? { default: def } : {}) });
  }
  return out;
}

const readme = readFileSync('README.md', 'utf8');

describe('the README', () => {
  for (const [program, help, heading] of [
    ['fedmesh-hub', HUB_HELP, '### Hub'],
    ['fedmesh-agent', AGENT_HELP, '### Edge agent'],
  ] as const) {
    it(`readme - the ${program} flag table matches ${program} --help`, () => {
      const fromHelp = flagsOfHelp(help);
      const fromReadme = flagsOfReadme(readme, heading);
      expect([...fromReadme.keys()].sort(), 'flags in the README').toEqual([...fromHelp.keys()].sort());
      for (const [flag, h] of fromHelp) {
        const r = fromReadme.get(flag)!;
        expect(r.env, `${flag}: the README's environment variable`).toBe(h.env);
        // The README may say more ("in-cluster, else the default kubeconfig") but not otherwise.
        if (h.default !== undefined)
          expect(r.default ?? '', `${flag}: the README's default`).toContain(h.default);
      }
    });
  }

  it('readme - README.md and docs/ link only inside the repository', () => {
    const files = [
      'README.md',
      ...readdirSync('docs')
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      const outside = [...text.matchAll(/\]\((https?:[^)]+)\)/g)].map((m) => m[1]);
      expect(outside, `${f} links outside the repository`).toEqual([]);
    }
  });
});
