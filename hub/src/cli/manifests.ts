import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
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
