import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifestText, readManifests, withNamespace } from './manifests.js';

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

  it('cli - -n fills the namespace of namespaced manifests without one, leaves Regions and the rest alone', () => {
    const docs = [
      { source: 'a#1', doc: { kind: 'Service', metadata: { name: 'a' } } },
      { source: 'a#2', doc: { kind: 'Service', metadata: { name: 'b', namespace: 'shop' } } },
      { source: 'a#3', doc: { kind: 'Region', metadata: { name: 'r' } } },
      { source: 'a#4', doc: { kind: 'Gizmo', metadata: { name: 'g' } } },
      { source: 'a#5', doc: 'not a manifest' },
    ];
    expect(withNamespace(docs, 'shop', true).map((d) => d.doc)).toEqual([
      { kind: 'Service', metadata: { name: 'a', namespace: 'shop' } },
      docs[1]!.doc,
      docs[2]!.doc,
      docs[3]!.doc,
      'not a manifest',
    ]);
    // The input is not changed in place: the sources stay as they were read.
    expect(docs[0]!.doc).toEqual({ kind: 'Service', metadata: { name: 'a' } });
    // A namespace that only came from the environment or the default never overrides a manifest's.
    expect(withNamespace(docs, 'tools', false)[1]!.doc).toEqual(docs[1]!.doc);
    expect(() => withNamespace(docs, 'tools', true)).toThrow(
      /^-n tools disagrees with the namespace of a manifest; nothing was sent.*\n {4}a#2: Service shop\/b is in namespace shop$/s,
    );
  });
});
