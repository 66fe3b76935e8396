import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { isClusterScoped, isKnownKind } from '@fedmesh/shared';
import { parseAllDocuments } from 'yaml';

/** One manifest read from disk or stdin, with where it came from for messages. */
export interface SourceDocument {
  source: string;
  doc: unknown;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads `-f` arguments: files, directories (recursively, files ending .yaml/.yml/.json, in
 * name order so applies are repeatable) or `-` for stdin. JSON is read as YAML (it is YAML).
 */
export async function readManifests(
  paths: readonly string[],
  readStdin: () => Promise<string>,
): Promise<SourceDocument[]> {
  const out: SourceDocument[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(...parseManifestText(await readStdin(), 'stdin'));
      continue;
    }
    let files: string[];
    try {
      files = (await stat(p)).isDirectory() ? await listDir(p) : [p];
    } catch (err) {
      throw new ManifestError(
        `${p}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
      );
    }
    if (files.length === 0) throw new ManifestError(`${p}: no .yaml, .yml or .json files`);
    for (const f of files) out.push(...parseManifestText(await readFile(f, 'utf8'), f));
  }
  return out;
}

async function listDir(dir: string): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listDir(full)));
    else if (EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(full);
  }
  return out;
}

/** Splits a YAML stream into manifests; lists (`[...]` or `{kind: List, items}`) are expanded. */
export function parseManifestText(text: string, source: string): SourceDocument[] {
  const out: SourceDocument[] = [];
  const docs = parseAllDocuments(text);
  for (const [i, d] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    const where = `${source}#${i + 1}`;
    if (d.errors.length > 0) throw new ManifestError(`${where}: malformed YAML: ${d.errors[0]!.message}`);
    let value: unknown;
    try {
      value = d.toJSON();
    } catch (err) {
      throw new ManifestError(`${where}: ${(err as Error).message}`);
    }
    if (value === null || value === undefined) continue;
    const items = Array.isArray(value)
      ? value
      : isList(value)
        ? (value as { items: unknown[] }).items
        : undefined;
    if (!items) out.push({ source: where, doc: value });
    else for (const [j, doc] of items.entries()) out.push({ source: `${where}[${j}]`, doc });
  }
  return out;
}

function isList(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  const o = v as { kind?: unknown; items?: unknown };
  return Array.isArray(o.items) && (o.kind === undefined || o.kind === 'List');
}

/**
 * `-n` for manifests, as kubectl does it: a namespaced manifest without a namespace takes
 * `namespace`; one that names another namespace is refused when `-n` was given on the command
 * line (`explicit`) — applying it elsewhere than either says would surprise one of them — and
 * keeps its own when the namespace only came from FEDMESH_NAMESPACE or the default.
 * Cluster-scoped kinds (Region) have no namespace and are left alone.
 */
export function withNamespace(
  docs: readonly SourceDocument[],
  namespace: string,
  explicit: boolean,
): SourceDocument[] {
  const conflicts: string[] = [];
  const out = docs.map((d) => {
    const doc = d.doc as { kind?: unknown; metadata?: unknown } | null;
    if (!doc || typeof doc !== 'object' || !isKnownKind(doc.kind) || isClusterScoped(doc.kind)) return d;
    const meta = doc.metadata;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return d;
    const own = (meta as { namespace?: unknown }).namespace;
    if (own === undefined || own === null) {
      return { source: d.source, doc: { ...doc, metadata: { ...meta, namespace } } };
    }
    if (explicit && own !== namespace) {
      const name = (meta as { name?: unknown }).name;
      conflicts.push(
        `${d.source}: ${doc.kind} ${String(own)}/${String(name)} is in namespace ${String(own)}`,
      );
    }
    return d;
  });
  if (conflicts.length) {
    throw new ManifestError(
      `-n ${namespace} disagrees with the namespace of ${conflicts.length === 1 ? 'a manifest' : `${conflicts.length} manifests`}; ` +
        `nothing was sent. Drop -n, or metadata.namespace, to choose one:\n    ${conflicts.join('\n    ')}`,
    );
  }
  return out;
}
