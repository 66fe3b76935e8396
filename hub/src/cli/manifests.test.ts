import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifestText, readManifests } from './manifests.js';

describe('cli manifests', () => {
  it('cli - splits a YAML stream, skips empty documents and expands lists', () => {
    const docs = parseManifestText(
      'a: 1\n---\n# only a comment\n---\n- b: 2\n- c: 3\n---\nkind: List\nitems: [{d: 4}]\n',
      'f.yaml',
    );
    expect(docs).toEqual([
      { source: 'f.yaml#1', doc: { a: 1 } },
      { source: 'f.yaml#3[0]', doc: { b: 2 } },
      { source: 'f.yaml#3[1]', doc: { c: 3 } },
      { source: 'f.yaml#4[0]', doc: { d: 4 } },
    ]);
  });

  it('cli - reads JSON as YAML', () => {
    expect(parseManifestText('{"kind": "Region"}', 'x.json')).toEqual([
      { source: 'x.json#1', doc: { kind: 'Region' } },
    ]);
  });

  it('cli - names the file and document of malformed YAML', () => {
    expect(() => parseManifestText('a: 1\n---\nb: [\n', 'bad.yaml')).toThrow(/^bad.yaml#2: malformed YAML/);
  });

  it('cli - reads a directory recursively in name order, only manifest files, and stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedmeshctl-'));
    try {
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'b.yaml'), 'n: b\n');
      writeFileSync(join(dir, 'a.yml'), 'n: a\n');
      writeFileSync(join(dir, 'sub', 'c.json'), '{"n": "c"}');
      writeFileSync(join(dir, 'README.md'), 'n: md\n');
      writeFileSync(join(dir, '.hidden.yaml'), 'n: hidden\n');
      const docs = await readManifests([dir, '-'], async () => 'n: stdin\n');
      expect(docs.map((d) => (d.doc as { n: string }).n)).toEqual(['a', 'b', 'c', 'stdin']);
      await expect(readManifests([join(dir, 'missing')], async () => '')).rejects.toThrow(
        /missing: no such file or directory/,
      );
      await expect(
        readManifests([join(dir, 'sub', 'c.json'), join(dir, 'README.md')], async () => ''),
      ).resolves.toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(readManifests(['/nonexistent-dir-xyz'], async () => '')).rejects.toBeInstanceOf(
      ManifestError,
    );
  });
});
