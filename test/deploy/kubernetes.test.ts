/**
 * The Kubernetes kit (deploy/kubernetes/) without a cluster: every object against the
 * Kubernetes schema of its apiVersion and kind (kubernetes-models, ajv-compiled from the
 * Kubernetes OpenAPI), every field against the generated API models of @kubernetes/client-node
 * (kubernetes-models lets unknown fields pass; the API server would drop or refuse them), and
 * the rules the kit exists to keep: Pod Security "restricted", probes that restart only a dead
 * process, pinned images, credentials from Secrets, and a kustomization that lists the kit.
 */

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseAgentArgs } from '../../edge-agent/src/config.js';
import { buildStatusServer } from '../../edge-agent/src/status/http.js';
import { parseHubArgs } from '../../hub/src/config.js';
import { buildTestApi, type TestApi } from '../api/support.js';
import { testLogger } from '../support/fedmesh.js';

const KIT = 'deploy/kubernetes';
const NAMESPACE = 'fedmesh';
const VERSION: string = JSON.parse(readFileSync('package.json', 'utf8')).version;
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

/** What each program's probes must ask: liveness only whether the process answers. */
const PROBES = {
  'fedmesh-hub': { startup: '/livez', liveness: '/livez', readiness: '/readyz' },
  'fedmesh-agent': { startup: '/livez', liveness: '/livez', readiness: '/readyz' },
} as const;
type Program = keyof typeof PROBES;

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
  [field: string]: unknown;
}
interface Manifest {
  file: string;
  object: KubeObject;
}
interface Workload {
  manifest: Manifest;
  pod: IPodSpec;
  labels: Record<string, string>;
  replicas: number;
  claims: string[];
}

/** kubectl reads manifests as YAML 1.1 (`0440` is octal there): so does this test. */
function parseManifests(file: string, text: string, version: '1.1' | '1.2'): Manifest[] {
  return parseAllDocuments(text, { version }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object = doc.toJS() as KubeObject | null;
    return object === null ? [] : [{ file, object }];
  });
}

const kitFiles = readdirSync(KIT)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();
const kit: Manifest[] = kitFiles.flatMap((f) => parseManifests(f, readFileSync(join(KIT, f), 'utf8'), '1.1'));
const kustomization = parseAllDocuments(readFileSync(join(KIT, 'kustomization.yaml'), 'utf8'), {
  version: '1.1',
})[0]!.toJS() as {
  apiVersion: string;
  kind: string;
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  [field: string]: unknown;
};
const label = (m: Manifest) => `${m.file}: ${m.object.kind}/${m.object.metadata.name}`;

function workloads(manifests: Manifest[]): Workload[] {
  return manifests.flatMap((manifest) => {
    const { kind, spec } = manifest.object;
    if (kind !== 'Deployment' && kind !== 'StatefulSet' && kind !== 'DaemonSet') return [];
    return [
      {
        manifest,
        pod: spec.template.spec as IPodSpec,
        labels: spec.template.metadata?.labels ?? {},
        replicas: spec.replicas ?? 1,
        claims: (spec.volumeClaimTemplates ?? []).map((c: { metadata: { name: string } }) => c.metadata.name),
      },
    ];
  });
}
const containersOf = (pod: IPodSpec): IContainer[] => [...(pod.initContainers ?? []), ...pod.containers];
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

// ---- the two validators ----

/** The object against the Kubernetes schema of its apiVersion and kind; no schema is an error. */
async function schemaErrors(m: Manifest): Promise<string[]> {
  const { apiVersion, kind } = m.object;
  let Model: (new (data: unknown) => { validate(): void }) | undefined;
  try {
    // One module per kind (`kubernetes-models/apps/v1/StatefulSet`): a new kind in the kit needs no edit here.
    const specifier = `kubernetes-models/${apiVersion}/${kind}`;
    Model = (await import(/* @vite-ignore */ specifier))[kind];
  } catch {
    Model = undefined;
  }
  if (!Model) return [`${label(m)}: no Kubernetes schema for ${apiVersion} ${kind}`];
  try {
    new Model(m.object).validate();
    return [];
  } catch (err) {
    return [`${label(m)}: ${(err as Error).message}`];
  }
}

interface GeneratedModel {
  getAttributeTypeMap(): readonly { baseName: string; type: string }[];
}
const models = k8s as unknown as Record<string, GeneratedModel | undefined>;

/** Fields that no Kubernetes API type of that place has (a typo the API server would drop). */
function unknownFields(m: Manifest): string[] {
  const { apiVersion, kind } = m.object;
  const version = apiVersion.split('/').pop()!;
  const type = `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
  if (typeof models[type]?.getAttributeTypeMap !== 'function') return [`${label(m)}: no API model ${type}`];
  const out: string[] = [];
  walk(m.object, type, '', out);
  return out.map((path) => `${label(m)}: unknown field ${path}`);
}

function walk(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value))
      value.forEach((v, i) => {
        walk(v, array[1]!, `${path}[${i}]`, out);
      });
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const model = models[type];
  // Scalars, IntOrString, Date and `any` have no fields; a wrong type is the schema's to report.
  if (typeof model?.getAttributeTypeMap !== 'function' || !isRecord(value)) return;
  const fields = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const fieldType = fields.get(k);
    if (fieldType === undefined) out.push(`${path}.${k}`.replace(/^\./, ''));
    else walk(v, fieldType, `${path}.${k}`, out);
  }
}
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

async function validate(manifests: Manifest[]): Promise<string[]> {
  const errors: string[] = [];
  for (const m of manifests) errors.push(...(await schemaErrors(m)), ...unknownFields(m));
  return errors;
}

// ---- what a container's command line says ----

function programOf(c: IContainer): Program {
  const program = c.args?.[0];
  if (program !== 'fedmesh-hub' && program !== 'fedmesh-agent')
    throw new Error(`container ${c.name}: args[0] is ${program}, not a fedmesh program`);
  return program;
}

/** The container's args through the bin's own parser: a flag it does not know fails here. */
function configOf(c: IContainer) {
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? 'from-a-secret']));
  const argv = c.args!.slice(1);
  if (programOf(c) === 'fedmesh-hub') {
    const parsed = parseHubArgs(argv, env);
    if (parsed.help) throw new Error('--help in a manifest');
    const { config } = parsed;
    return {
      listens: { http: config.listen },
      files: { natsCreds: config.natsCreds, signingKey: config.signingKey },
      stateDir: undefined,
    };
  }
  const parsed = parseAgentArgs(argv, env);
  if (parsed.help) throw new Error('--help in a manifest');
  const { config } = parsed;
  return {
    listens: { status: config.statusListen, xds: config.xdsListen },
    files: { natsCreds: config.natsCreds, trust: config.trust },
    stateDir: config.stateDir,
  };
}
const portOf = (hostPort: string) => Number(hostPort.slice(hostPort.lastIndexOf(':') + 1));

/** The volume a file lies on, and the key of the Secret or ConfigMap that becomes that file. */
function sourceOf(w: Workload, c: IContainer, file: string) {
  const mount = (c.volumeMounts ?? [])
    .filter((vm) => file.startsWith(`${vm.mountPath.replace(/\/$/, '')}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return undefined;
  const volume = (w.pod.volumes ?? []).find((v) => v.name === mount.name);
  const rel = posix.relative(mount.mountPath, file);
  const source = volume?.secret
    ? { kind: 'secret', name: volume.secret.secretName, items: volume.secret.items }
    : volume?.configMap
      ? { kind: 'configmap', name: volume.configMap.name, items: volume.configMap.items }
      : undefined;
  const key = source?.items ? source.items.find((i) => i.path === rel)?.key : rel;
  return { mount, volume, source, key };
}

/** Every Secret and ConfigMap key the kit needs from outside, and who needs it. */
function externalKeys(): { kind: string; name: string; key: string; by: string }[] {
  const keys: { kind: string; name: string; key: string; by: string }[] = [];
  for (const w of workloads(kit))
    for (const c of containersOf(w.pod)) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const kind = e.valueFrom?.secretKeyRef ? 'secret' : 'configmap';
        keys.push({ kind, name: ref.name!, key: ref.key, by: `${c.name} env ${e.name}` });
      }
      for (const [flag, file] of Object.entries(configOf(c).files)) {
        if (!file) continue;
        const s = sourceOf(w, c, file);
        if (s?.source && s.key)
          keys.push({ kind: s.source.kind, name: s.source.name!, key: s.key, by: `${c.name} ${flag}` });
      }
    }
  return keys;
}

// ---- the tests ----

describe('the Kubernetes kit (deploy/kubernetes)', () => {
  it('every object is valid against the Kubernetes schema of its apiVersion and kind, with no unknown field', async () => {
    expect(kit.length).toBeGreaterThan(0);
    expect(await validate(kit)).toEqual([]);
  });

  it('the validators catch a misspelled field, a wrong type and a kind with no schema', async () => {
    const hub = kit.find((m) => m.object.kind === 'Deployment')!;
    const typo = structuredClone(hub);
    typo.object.spec.template.spec.containers[0].imagePullPolcy = 'Always';
    typo.object.spec.strategy.rollingUpdate.maxSurgee = 1;
    expect(unknownFields(typo)).toEqual([
      `${label(hub)}: unknown field spec.strategy.rollingUpdate.maxSurgee`,
      `${label(hub)}: unknown field spec.template.spec.containers[0].imagePullPolcy`,
    ]);
    const wrongType = structuredClone(hub);
    wrongType.object.spec.template.spec.securityContext.runAsNonRoot = 'yes';
    expect((await schemaErrors(wrongType)).join()).toMatch(/securityContext\/runAsNonRoot must be boolean/);
    const unknownKind = structuredClone(hub);
    unknownKind.object.kind = 'Deploymnet';
    expect(await validate([unknownKind])).toHaveLength(2);
  });

  it('every namespaced object is in the fedmesh namespace, which enforces Pod Security "restricted"', () => {
    for (const m of kit) {
      if (CLUSTER_SCOPED.has(m.object.kind)) expect(m.object.metadata.namespace, label(m)).toBeUndefined();
      else expect(m.object.metadata.namespace, label(m)).toBe(NAMESPACE);
    }
    const ns = kit.find((m) => m.object.kind === 'Namespace' && m.object.metadata.name === NAMESPACE);
    expect(ns?.object.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('every container runs under Pod Security "restricted", as a numeric non-root user', () => {
    const ws = workloads(kit);
    expect(ws.map((w) => w.manifest.object.metadata.name).sort()).toEqual(['fedmesh-agent', 'fedmesh-hub']);
    for (const w of ws) {
      const pod = w.pod.securityContext ?? {};
      const at = label(w.manifest);
      expect(pod.runAsNonRoot, at).toBe(true);
      // The image's USER is a name ("node"): the kubelet can only check a number against root.
      expect(pod.runAsUser, at).toBeGreaterThan(0);
      expect(pod.seccompProfile?.type, at).toBe('RuntimeDefault');
      expect(w.pod.hostNetwork ?? false, at).toBe(false);
      expect(w.pod.hostPID ?? false, at).toBe(false);
      for (const c of containersOf(w.pod)) {
        const sc = c.securityContext ?? {};
        const where = `${at} container ${c.name}`;
        expect(sc.runAsNonRoot, where).toBe(true);
        expect(sc.allowPrivilegeEscalation, where).toBe(false);
        expect(sc.privileged ?? false, where).toBe(false);
        expect(sc.readOnlyRootFilesystem, where).toBe(true);
        expect(sc.capabilities?.drop, where).toEqual(['ALL']);
        expect(sc.capabilities?.add ?? [], where).toEqual([]);
        expect(sc.seccompProfile?.type, where).toBe('RuntimeDefault');
        expect(sc.runAsUser ?? pod.runAsUser, where).not.toBe(0);
      }
    }
  });

  it('a pod with a volume has an fsGroup, and Secrets are mounted read-only, readable by that group alone', () => {
    for (const w of workloads(kit)) {
      const at = label(w.manifest);
      if ((w.pod.volumes ?? []).length > 0 || w.claims.length > 0)
        expect(w.pod.securityContext?.fsGroup, at).toBeGreaterThan(0);
      for (const v of w.pod.volumes ?? []) {
        if (!v.secret) continue;
        expect(v.secret.defaultMode, `${at} volume ${v.name}`).toBe(0o440);
        for (const c of containersOf(w.pod))
          for (const vm of c.volumeMounts ?? [])
            if (vm.name === v.name) expect(vm.readOnly, `${at} mount ${vm.mountPath}`).toBe(true);
      }
    }
  });

  it('probes ask each program the right question on its own listener: only a dead process is restarted', () => {
    for (const w of workloads(kit))
      for (const c of w.pod.containers) {
        const program = programOf(c);
        const want = PROBES[program];
        const where = `${label(w.manifest)} container ${c.name}`;
        const probes: Record<keyof typeof want, IProbe | undefined> = {
          startup: c.startupProbe,
          liveness: c.livenessProbe,
          readiness: c.readinessProbe,
        };
        const { listens } = configOf(c);
        for (const [which, path] of Object.entries(want) as [keyof typeof want, string][]) {
          const probe = probes[which];
          expect(probe?.httpGet?.path, `${where} ${which}Probe`).toBe(path);
          const port = (c.ports ?? []).find((p) => p.name === probe?.httpGet?.port);
          expect(port, `${where} ${which}Probe port ${probe?.httpGet?.port}`).toBeDefined();
          expect(Object.values(listens).map(portOf), `${where} ${which}Probe port`).toContain(
            port!.containerPort,
          );
        }
        // Kubernetes stops an unready pod's traffic but restarts it only on liveness: liveness
        // must give up no sooner than readiness.
        const giveUp = (p: IProbe | undefined) => (p?.periodSeconds ?? 10) * (p?.failureThreshold ?? 3);
        expect(giveUp(probes.liveness), where).toBeGreaterThanOrEqual(giveUp(probes.readiness));
        for (const [name, hostPort] of Object.entries(listens))
          expect(
            (c.ports ?? []).find((p) => p.name === name)?.containerPort,
            `${where} port ${name} is the one ${program} listens on`,
          ).toBe(portOf(hostPort));
      }
  });

  describe('the probed paths mean what the probes take them for', () => {
    let notReady: TestApi;
    let ready: TestApi;
    beforeAll(async () => {
      notReady = await buildTestApi({ ready: () => false });
      ready = await buildTestApi();
    });
    afterAll(async () => {
      await notReady?.close();
      await ready?.close();
    });

    it('hub - liveness answers while NATS is down, readiness only once NATS and the store answer', async () => {
      const { liveness, readiness, startup } = PROBES['fedmesh-hub'];
      for (const path of new Set([liveness, startup]))
        expect((await notReady.app.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
      expect((await notReady.app.inject({ method: 'GET', url: readiness })).statusCode).toBe(503);
      expect((await ready.app.inject({ method: 'GET', url: readiness })).statusCode).toBe(200);
    });

    it('agent - liveness answers before any view, readiness once a verified view is served', async () => {
      const { liveness, readiness, startup } = PROBES['fedmesh-agent'];
      for (const served of [false, true]) {
        const app = buildStatusServer({
          logger: testLogger('probes'),
          status: () => ({ region: 'eu-west' }),
          registry: new Registry(),
          healthy: () => served,
        });
        try {
          for (const path of new Set([liveness, startup]))
            expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
          expect((await app.inject({ method: 'GET', url: readiness })).statusCode).toBe(served ? 200 : 503);
        } finally {
          await app.close();
        }
      }
    });
  });

  it("every StatefulSet's serviceName is a headless Service of the kit that selects its pods", () => {
    const services = kit.filter((m) => m.object.kind === 'Service');
    const sets = kit.filter((m) => m.object.kind === 'StatefulSet');
    expect(sets.length).toBeGreaterThan(0);
    for (const set of sets) {
      const name: string = set.object.spec.serviceName;
      const service = services.find((s) => s.object.metadata.name === name)?.object as IService | undefined;
      expect(service, `${label(set)}: serviceName ${name}`).toBeDefined();
      expect(service!.spec?.clusterIP, `Service ${name}`).toBe('None');
      expect(
        selects(service!.spec?.selector, set.object.spec.template.metadata.labels),
        `Service ${name}`,
      ).toBe(true);
    }
    // And every Service reaches some pod of the kit by a port that pod names.
    for (const s of services) {
      const w = workloads(kit).find((w) => selects(s.object.spec.selector, w.labels));
      expect(w, `${label(s)} selects no pod of the kit`).toBeDefined();
      const named = containersOf(w!.pod).flatMap((c) => (c.ports ?? []).map((p) => p.name));
      for (const p of s.object.spec.ports) expect(named, `${label(s)} targetPort`).toContain(p.targetPort);
    }
  });

  it("images are pinned to package.json's version, never :latest", () => {
    for (const w of workloads(kit))
      for (const c of containersOf(w.pod)) {
        expect(c.image, `${label(w.manifest)} container ${c.name}`).toBe(`fedmesh:${VERSION}`);
        expect(c.imagePullPolicy, `${label(w.manifest)} container ${c.name}`).toBe('IfNotPresent');
      }
    for (const image of kustomization.images ?? []) {
      expect(image.newTag, `kustomization images ${image.name}`).toBe(VERSION);
      expect(image.newTag).not.toBe('latest');
    }
  });

  it('every container has CPU and memory requests and limits', () => {
    for (const w of workloads(kit))
      for (const c of containersOf(w.pod)) {
        const where = `${label(w.manifest)} container ${c.name}`;
        for (const r of ['cpu', 'memory']) {
          expect(c.resources?.requests?.[r], `${where} requests.${r}`).toBeDefined();
          expect(c.resources?.limits?.[r], `${where} limits.${r}`).toBeDefined();
        }
      }
  });

  it('credentials and keys come from Secrets and a ConfigMap the kit mounts, the state from a persistent volume', () => {
    for (const w of workloads(kit))
      for (const c of w.pod.containers) {
        const program = programOf(c);
        const { files, stateDir } = configOf(c);
        const where = `${label(w.manifest)} container ${c.name}`;
        const need: Record<string, 'secret' | 'configmap'> =
          program === 'fedmesh-hub'
            ? { natsCreds: 'secret', signingKey: 'secret' }
            : { natsCreds: 'secret', trust: 'configmap' };
        for (const [flag, kind] of Object.entries(need)) {
          const file = (files as Record<string, string | undefined>)[flag];
          expect(file, `${where}: ${flag} is set`).toBeDefined();
          const s = sourceOf(w, c, file!);
          expect(s?.source?.kind, `${where}: ${flag} ${file} lies on a ${kind}`).toBe(kind);
          expect(s?.mount.readOnly, `${where}: ${flag} mount`).toBe(true);
        }
        if (program === 'fedmesh-hub')
          expect(c.env?.find((e) => e.name === 'FEDMESH_ADMIN_TOKEN')?.valueFrom?.secretKeyRef).toBeDefined();
        if (program === 'fedmesh-agent') {
          const mount = (c.volumeMounts ?? []).find((vm) => vm.mountPath === stateDir);
          expect(w.claims, `${where}: --state-dir ${stateDir} is a volumeClaimTemplate`).toContain(
            mount?.name,
          );
        }
      }
  });

  it('the kit holds no Secret, and README says how to create every Secret and ConfigMap key it needs', () => {
    expect(kit.filter((m) => m.object.kind === 'Secret').map(label)).toEqual([]);
    const readme = readFileSync('README.md', 'utf8');
    const created = new Map<string, Set<string>>();
    for (const m of readme.matchAll(
      new RegExp(`kubectl -n ${NAMESPACE} create (secret generic|configmap) (\\S+)(.*)`, 'g'),
    )) {
      const kind = m[1] === 'configmap' ? 'configmap' : 'secret';
      const keys = [...m[3]!.matchAll(/--from-(literal|file)=([^\s=]+)(=\S*)?/g)].map((k) =>
        k[1] === 'file' && k[3] === undefined ? basename(k[2]!) : k[2]!,
      );
      created.set(`${kind}/${m[2]}`, new Set(keys));
    }
    const needed = externalKeys();
    // Both ways: README creates nothing the kit does not mount.
    expect([...new Set(needed.map((n) => `${n.kind}/${n.name}`))].sort()).toEqual([...created.keys()].sort());
    for (const n of needed)
      expect(
        created.get(`${n.kind}/${n.name}`)?.has(n.key),
        `README creates ${n.kind} ${n.name} with key ${n.key} (for ${n.by})`,
      ).toBe(true);
    expect(readme).toContain(`kubectl apply -k ${KIT}`);
  });

  it("the hub's PodDisruptionBudget selects its pods and always lets one go", () => {
    const pdbs = kit.filter((m) => m.object.kind === 'PodDisruptionBudget');
    const hub = workloads(kit).find((w) => w.manifest.object.metadata.name === 'fedmesh-hub')!;
    expect(hub.replicas).toBe(2);
    const pdb = pdbs.find((p) => selects(p.object.spec.selector.matchLabels, hub.labels));
    expect(pdb, 'a PodDisruptionBudget for the hub').toBeDefined();
    expect(pdb!.object.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb!.object.spec.minAvailable).toBeLessThan(hub.replicas);
  });

  it('the kustomization lists every file of the kit, local files only, and sets the namespace', () => {
    expect(kustomization.apiVersion).toBe('kustomize.config.k8s.io/v1beta1');
    expect(kustomization.kind).toBe('Kustomization');
    expect(kustomization.namespace).toBe(NAMESPACE);
    expect([...(kustomization.resources ?? [])].sort()).toEqual(kitFiles);
    // No remote bases, no generators or patches that would make the files lie about the result.
    expect(Object.keys(kustomization).sort()).toEqual([
      'apiVersion',
      'images',
      'kind',
      'namespace',
      'resources',
    ]);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { timeout: 30_000 }).status === 0;
  it.skipIf(!kubectl)('kubectl kustomize renders the kit into the same objects, all valid', async () => {
    const run = spawnSync('kubectl', ['kustomize', KIT], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const rendered = parseManifests('kustomize', run.stdout, '1.1');
    const ids = (ms: Manifest[]) => ms.map((m) => `${m.object.kind}/${m.object.metadata.name}`).sort();
    expect(ids(rendered)).toEqual(ids(kit));
    expect(await validate(rendered)).toEqual([]);
    for (const m of rendered)
      if (!CLUSTER_SCOPED.has(m.object.kind)) expect(m.object.metadata.namespace, label(m)).toBe(NAMESPACE);
  });
});
