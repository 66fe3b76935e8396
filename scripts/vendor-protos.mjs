#!/usr/bin/env node
/**
 * Vendors the Envoy xDS protos the agent loads into edge-agent/proto/: the files named in
 * PROTO_FILES of edge-agent/src/xds/server/protos.ts and everything they import, from pinned
 * upstream revisions (below), with their license. Run it again after changing PROTO_FILES:
 *   node scripts/vendor-protos.mjs [<dir holding envoy-api/ xds/ googleapis/ protoc-gen-validate/>]
 * Without an argument it reads the same revisions from @grpc/grpc-js-xds's `deps/` (a
 * development-time source only: at run time the agent reads edge-agent/proto/).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The upstream revisions: the submodules of grpc/grpc-node at @grpc/grpc-js-xds@1.14.x. */
export const REVISIONS = {
  'envoy-api': 'https://github.com/envoyproxy/data-plane-api @ f8b75d1efa92bbf534596a013d9ca5873f79dd30',
  xds: 'https://github.com/cncf/xds @ 3a472e524827f72d1ad621c4983dd5af54c46776',
  googleapis: 'https://github.com/googleapis/googleapis @ 8c53b2cb792234354c13336ac7daee61333deade',
  'protoc-gen-validate':
    'https://github.com/bufbuild/protoc-gen-validate @ 0af61d9dc28712dc0e6f8e1a940855a2ee0cb9ed',
};
const DIRS = Object.keys(REVISIONS);

const source =
  process.argv[2] ??
  join(dirname(createRequire(import.meta.url).resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const protosTs = readFileSync(join(root, 'edge-agent/src/xds/server/protos.ts'), 'utf8');
const list = protosTs.match(/const PROTO_FILES = \[([\s\S]*?)\];/);
if (!list) throw new Error('PROTO_FILES not found in edge-agent/src/xds/server/protos.ts');
const wanted = [...list[1].matchAll(/'([^']+\.proto)'/g)].map((m) => m[1]);

const found = new Map(); // proto path -> include dir it lives in
const locate = (file) => DIRS.find((d) => existsSync(join(source, d, file)));
const queue = [...wanted];
while (queue.length > 0) {
  const file = queue.pop();
  if (found.has(file)) continue;
  const dir = locate(file);
  if (!dir) {
    if (file.startsWith('google/protobuf/')) continue; // well-known types: bundled with protobufjs
    throw new Error(`${file} is in none of ${DIRS.join(', ')} under ${source}`);
  }
  found.set(file, dir);
  const text = readFileSync(join(source, dir, file), 'utf8');
  for (const m of text.matchAll(/^import\s+(?:public\s+)?"([^"]+)";/gm)) queue.push(m[1]);
}

const out = join(root, 'edge-agent/proto');
rmSync(out, { recursive: true, force: true });
for (const [file, dir] of [...found].sort()) {
  mkdirSync(dirname(join(out, dir, file)), { recursive: true });
  copyFileSync(join(source, dir, file), join(out, dir, file));
}
// All four are Apache-2.0; the text is the one @grpc/grpc-js ships (the same license).
copyFileSync(createRequire(import.meta.url).resolve('@grpc/grpc-js/LICENSE'), join(out, 'LICENSE'));
writeFileSync(
  join(out, 'README.md'),
  `# Vendored xDS protos

The Envoy xDS API protos the agent loads (edge-agent/src/xds/server/protos.ts), and what they
import: ${found.size} files, written by \`node scripts/vendor-protos.mjs\`. Do not edit them here;
change PROTO_FILES and run the script again.

| directory | upstream, revision |
| --- | --- |
${DIRS.map((d) => `| \`${d}/\` | ${REVISIONS[d]} |`).join('\n')}

These are the revisions \`@grpc/grpc-js-xds\` 1.14 was built from (the submodules of
grpc/grpc-node), so the agent and the proxyless client the suite tests against agree on every
field. All four projects are licensed under the Apache License 2.0 (\`LICENSE\`). The well-known
types (\`google/protobuf/*\`) come with protobufjs.
`,
);
console.log(`vendored ${found.size} proto files into edge-agent/proto/`);
