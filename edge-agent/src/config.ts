import { CODECS, FlagTypes, isDnsLabel, LOG_LEVELS, parseFlags } from '@fedmesh/shared';
import { z } from 'zod';
import { labelSelectorProblem } from './discovery/selector.js';

export const AGENT_HELP = `fedmesh-agent — the fedmesh edge agent: pulls its region's config from the hub, verifies it,
persists it and serves it to node proxies over xDS (ADS)

Usage: fedmesh-agent --region <name> [options]

Options (each also read from the environment variable shown):
  --region <name>           this agent's region (DNS-1123 label)   FEDMESH_REGION        (required)
  --nats <url[,url]>        NATS server URL(s), local leaf or hub  FEDMESH_NATS_URL      [nats://127.0.0.1:4222]
  --nats-creds <file>       NATS .creds file or nkey seed (SU…)    FEDMESH_NATS_CREDS
  --hub-domain <domain>     JetStream domain of the hub, when NATS is a leaf server  FEDMESH_HUB_DOMAIN
  --state-dir <dir>         where the verified view is persisted   FEDMESH_STATE_DIR     [./.fedmesh/<region>]
  --xds-listen <host:port>  ADS server for node proxies            FEDMESH_XDS_LISTEN    [127.0.0.1:18000]
  --status-listen <host:port> status and metrics HTTP              FEDMESH_STATUS_LISTEN [127.0.0.1:9902]
  --codecs <list>           codecs accepted from the hub           FEDMESH_CODECS        [br,gzip,identity]
  --trust <file>            PEM public keys of the hub (fedmesh-hub --print-public-key);  FEDMESH_TRUST
                            without it the first signing key seen is pinned in the state dir
  --registrations <file>    YAML list of this site's endpoints     FEDMESH_REGISTRATIONS
                            ({namespace, service, id, address, port, check?, ...}); followed
  --discovery <list>        discovery sources besides the always-on registrations:  FEDMESH_DISCOVERY
                            kubernetes (EndpointSlices and their pods' labels)
  --kubeconfig <file>       the cluster (else in-cluster, else the default kubeconfig)  FEDMESH_KUBECONFIG
  --kube-namespaces <list>  namespaces to follow                   FEDMESH_KUBE_NAMESPACES [all]
  --kube-selector <sel>     label selector on Services' EndpointSlices  FEDMESH_KUBE_SELECTOR
  --budget <rate>           cap on sync bandwidth (may only lower the Region's link.budget)  FEDMESH_BUDGET
  --heartbeat <duration>    status report interval                 FEDMESH_HEARTBEAT     [10s]
  --max-payload <size>      largest decoded sync payload accepted  FEDMESH_MAX_PAYLOAD   [256MiB]
  --log-level <level>       fatal|error|warn|info|debug|trace      FEDMESH_LOG_LEVEL     [info]
  -h, --help                show this help

Signals: SIGINT/SIGTERM stop pulling, close the xDS and status servers, drain NATS and exit 0.`;

const { hostPort: HostPort, rate, duration, size } = FlagTypes;

/** Sources `--discovery` may name. Registrations are always on; naming them changes nothing. */
export const DISCOVERY_SOURCES = ['kubernetes', 'registrations'] as const;

const commaList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

const Discovery = z
  .string()
  .transform(commaList)
  .pipe(
    z.array(
      z.enum(DISCOVERY_SOURCES, {
        error: (issue) =>
          `unknown discovery source ${JSON.stringify(issue.input)}; the sources are ${DISCOVERY_SOURCES.join(', ')} (registrations are always on)`,
      }),
    ),
  )
  .transform((list) => [...new Set(list)]);

const KubeNamespaces = z
  .string()
  .transform(commaList)
  .pipe(
    z.array(
      z.string().refine(isDnsLabel, {
        error: (issue) => `namespace ${JSON.stringify(issue.input)} is not a DNS-1123 label`,
      }),
    ),
  )
  .transform((list) => [...new Set(list)]);

const KubeSelector = z.string().superRefine((s, ctx) => {
  const problem = labelSelectorProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: `not a label selector: ${problem}` });
});

const AgentFlags = z.object({
  region: z.string().refine(isDnsLabel, 'must be a DNS-1123 label'),
  nats: z.string().min(1).default('nats://127.0.0.1:4222'),
  natsCreds: z.string().optional(),
  hubDomain: z.string().optional(),
  stateDir: z.string().min(1).optional(),
  trust: z.string().min(1).optional(),
  registrations: z.string().min(1).optional(),
  discovery: Discovery.default([]),
  kubeconfig: z.string().min(1).optional(),
  kubeNamespaces: KubeNamespaces.default([]),
  kubeSelector: KubeSelector.optional(),
  xdsListen: HostPort.default('127.0.0.1:18000'),
  statusListen: HostPort.default('127.0.0.1:9902'),
  codecs: z
    .string()
    .transform((s) => s.split(',').map((c) => c.trim()))
    .pipe(z.array(z.enum(CODECS as [string, ...string[]])).min(1))
    .default([...CODECS]),
  budget: rate.optional(),
  heartbeat: duration.default(10_000),
  maxPayload: size.default(256 * 1024 * 1024),
  logLevel: z.enum(LOG_LEVELS).default('info'),
});

/** A Kubernetes flag without the source would be ignored without a word: say so instead. */
function kubernetesFlagsNeedTheSource(c: z.output<typeof AgentFlags>, ctx: z.RefinementCtx) {
  if (c.discovery.includes('kubernetes')) return;
  const given = [
    ['kubeconfig', c.kubeconfig !== undefined],
    ['kubeNamespaces', c.kubeNamespaces.length > 0],
    ['kubeSelector', c.kubeSelector !== undefined],
  ] as const;
  for (const [key, set] of given)
    if (set)
      ctx.addIssue({ code: 'custom', path: [key], message: 'only applies with --discovery kubernetes' });
}

export const AgentConfigSchema = AgentFlags.superRefine(kubernetesFlagsNeedTheSource);
export type AgentConfig = Readonly<z.output<typeof AgentConfigSchema> & { stateDir: string }>;

const FLAGS = {
  region: 'FEDMESH_REGION',
  nats: 'FEDMESH_NATS_URL',
  'nats-creds': 'FEDMESH_NATS_CREDS',
  'hub-domain': 'FEDMESH_HUB_DOMAIN',
  'state-dir': 'FEDMESH_STATE_DIR',
  'xds-listen': 'FEDMESH_XDS_LISTEN',
  'status-listen': 'FEDMESH_STATUS_LISTEN',
  codecs: 'FEDMESH_CODECS',
  trust: 'FEDMESH_TRUST',
  registrations: 'FEDMESH_REGISTRATIONS',
  discovery: 'FEDMESH_DISCOVERY',
  kubeconfig: 'FEDMESH_KUBECONFIG',
  'kube-namespaces': 'FEDMESH_KUBE_NAMESPACES',
  'kube-selector': 'FEDMESH_KUBE_SELECTOR',
  budget: 'FEDMESH_BUDGET',
  heartbeat: 'FEDMESH_HEARTBEAT',
  'max-payload': 'FEDMESH_MAX_PAYLOAD',
  'log-level': 'FEDMESH_LOG_LEVEL',
} as const;

export type ParsedAgentArgs = { help: true } | { help: false; config: AgentConfig };

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): ParsedAgentArgs {
  const parsed = parseFlags({ argv, env, flags: FLAGS, schema: AgentConfigSchema });
  if (parsed.help) return parsed;
  const config = { ...parsed.config, stateDir: parsed.config.stateDir ?? `.fedmesh/${parsed.config.region}` };
  return { help: false, config: Object.freeze(config) };
}
