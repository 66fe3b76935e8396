import { readFileSync } from 'node:fs';
import { FlagTypes, LOG_LEVELS, parseFlags } from '@fedmesh/shared';
import { z } from 'zod';
import { type Principal, tokenDigest } from './api/auth.js';

export const HUB_HELP = `fedmesh-hub — the fedmesh hub: admin API, config store, region scoping and sync publication

Usage: fedmesh-hub [options]

Options (each also read from the environment variable shown):
  --nats <url[,url]>        NATS server URL(s)                    FEDMESH_NATS_URL      [nats://127.0.0.1:4222]
  --nats-creds <file>       NATS .creds file or nkey seed (SU…)   FEDMESH_NATS_CREDS
  --listen <host:port>      admin REST API address                FEDMESH_LISTEN        [127.0.0.1:8080]
  --log-level <level>       fatal|error|warn|info|debug|trace     FEDMESH_LOG_LEVEL     [info]
  --debounce <duration>     a change after a quiet spell goes at FEDMESH_DEBOUNCE      [100ms]
                            once; later ones wait this long for company
  --max-wait <duration>     longest a change waits under bursts   FEDMESH_MAX_WAIT      [1s]
  --coalesce-after <dur>    while a region's queue takes longer   FEDMESH_COALESCE_AFTER [3s]
                            than this to drain at its budget, hold its intermediate
                            states and send the latest (0: send every state)
  --chunk-size <size>       bytes per sync message                FEDMESH_CHUNK_SIZE    [64KiB]
  --compression-level <n>   brotli quality 0-11 / gzip level 1-9  FEDMESH_COMPRESSION_LEVEL [9]
  --body-limit <size>       largest admin request body (per resource; POST /v1/apply takes 16x)  FEDMESH_BODY_LIMIT [1MiB]
  --signing-key <file>      Ed25519 key (PKCS#8 PEM) that signs   FEDMESH_SIGNING_KEY
                            every sync message; created (mode 0600) when absent.
                            Every replica needs the same file.
  --previous-signing-key <file>  the key it replaces: announces the new key signed by the
                            old one, so agents rotate without a restart  FEDMESH_PREVIOUS_SIGNING_KEY
  --print-public-key        print the public key of --signing-key (PEM, for agents' --trust) and exit
  --tokens-file <file>      YAML/JSON {tokens: [{token | sha256, role: admin|read-only, name?}]}  FEDMESH_TOKENS_FILE
                            (sha256: the token's SHA-256 in hex, so the file holds no secret)
                            (name is the actor in the audit log; default token-<sha256 prefix>)
  --audit-max-age <dur>     how long the audit log (stream FEDMESH_AUDIT) keeps entries  FEDMESH_AUDIT_MAX_AGE [2160h]
  --stream-max-age <dur>    sync stream retention by age          FEDMESH_STREAM_MAX_AGE   [24h]
  --stream-max-bytes <size> sync stream retention by size         FEDMESH_STREAM_MAX_BYTES [1GiB]
  --replicas <n>            JetStream replicas for KV and stream  FEDMESH_REPLICAS      [1]
  --stale-after <n>         heartbeats missed before a region is marked stale  FEDMESH_STALE_AFTER [3]
  --endpoints-stale-after <dur>  a silent agent's discovered endpoints are kept, marked stale after  FEDMESH_ENDPOINTS_STALE_AFTER [3m]
  -h, --help                show this help
  FEDMESH_ADMIN_TOKEN       when set, every /v1 call needs "Authorization: Bearer <token>" (admin role)

Signals: SIGINT/SIGTERM drain NATS, close the API and exit 0.`;

const { duration: Duration, size: Size, hostPort: HostPort } = FlagTypes;

export const HubConfigSchema = z.object({
  nats: z.string().min(1).default('nats://127.0.0.1:4222'),
  natsCreds: z.string().optional(),
  listen: HostPort.default('127.0.0.1:8080'),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  debounce: Duration.default(100),
  maxWait: Duration.default(1000),
  coalesceAfter: Duration.default(3000),
  chunkSize: Size.pipe(
    z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024),
  ).default(64 * 1024),
  compressionLevel: z.coerce.number().int().min(0).max(11).optional(),
  bodyLimit: Size.pipe(z.number().int().min(1024)).default(1024 * 1024),
  tokensFile: z.string().optional(),
  signingKey: z.string().min(1).optional(),
  previousSigningKey: z.string().min(1).optional(),
  adminToken: z.string().min(1).optional(),
  streamMaxAge: Duration.default(24 * 3600_000),
  streamMaxBytes: Size.default(1024 * 1024 * 1024),
  replicas: z.coerce.number().int().min(1).max(5).default(1),
  staleAfter: z.coerce.number().int().min(1).default(3),
  // Three of the agents' full endpoint reports (one a minute): a lost report or two is no alarm.
  endpointsStaleAfter: Duration.pipe(z.number().min(1000)).default(180_000),
  auditMaxAge: Duration.pipe(z.number().min(60_000)).default(90 * 24 * 3600_000),
});
export type HubConfig = Readonly<z.output<typeof HubConfigSchema>>;

const FLAGS = {
  nats: 'FEDMESH_NATS_URL',
  'nats-creds': 'FEDMESH_NATS_CREDS',
  listen: 'FEDMESH_LISTEN',
  'log-level': 'FEDMESH_LOG_LEVEL',
  debounce: 'FEDMESH_DEBOUNCE',
  'max-wait': 'FEDMESH_MAX_WAIT',
  'coalesce-after': 'FEDMESH_COALESCE_AFTER',
  'chunk-size': 'FEDMESH_CHUNK_SIZE',
  'compression-level': 'FEDMESH_COMPRESSION_LEVEL',
  'body-limit': 'FEDMESH_BODY_LIMIT',
  'tokens-file': 'FEDMESH_TOKENS_FILE',
  'signing-key': 'FEDMESH_SIGNING_KEY',
  'previous-signing-key': 'FEDMESH_PREVIOUS_SIGNING_KEY',
  'stream-max-age': 'FEDMESH_STREAM_MAX_AGE',
  'stream-max-bytes': 'FEDMESH_STREAM_MAX_BYTES',
  replicas: 'FEDMESH_REPLICAS',
  'stale-after': 'FEDMESH_STALE_AFTER',
  'endpoints-stale-after': 'FEDMESH_ENDPOINTS_STALE_AFTER',
  'audit-max-age': 'FEDMESH_AUDIT_MAX_AGE',
} as const;

export type ParsedArgs = { help: true } | { help: false; config: HubConfig };

/** Flags win over environment variables; the result is validated once and frozen. */
export function parseHubArgs(argv: string[], env: NodeJS.ProcessEnv): ParsedArgs {
  return parseFlags({
    argv,
    env,
    flags: FLAGS,
    schema: HubConfigSchema,
    extra: { adminToken: env.FEDMESH_ADMIN_TOKEN || undefined },
  });
}

/** Tokens from FEDMESH_ADMIN_TOKEN (named "admin") and the tokens file, token → principal. */
export function loadTokens(config: HubConfig, parse: (text: string) => unknown): Map<string, Principal> {
  const tokens = new Map<string, Principal>();
  if (config.adminToken) tokens.set(tokenDigest(config.adminToken), { name: 'admin', role: 'admin' });
  if (config.tokensFile) {
    const TokensFile = z.object({
      tokens: z.array(
        z
          .object({
            token: z.string().min(16, 'tokens must be at least 16 characters').optional(),
            sha256: z
              .string()
              .regex(/^[0-9a-fA-F]{64}$/, 'must be the SHA-256 of the token, 64 hex digits')
              .optional(),
            role: z.enum(['admin', 'read-only']),
            name: z
              .string()
              .regex(
                /^[A-Za-z0-9][-A-Za-z0-9_.@]{0,62}$/,
                'names are 1-63 letters, digits, "-", "_", ".", "@"',
              )
              .optional(),
          })
          .strict()
          .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), {
            message: 'give either token or sha256 (the SHA-256 of the token, hex), not both',
          }),
      ),
    });
    const parsed = TokensFile.safeParse(parse(readFileSync(config.tokensFile, 'utf8')));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `invalid tokens file ${config.tokensFile}: ${issue?.path.join('.')}: ${issue?.message}`,
      );
    }
    for (const t of parsed.data.tokens) {
      const digest = t.sha256?.toLowerCase() ?? tokenDigest(t.token!);
      // Without a name the audit log still tells tokens apart, without revealing them.
      tokens.set(digest, { name: t.name ?? `token-${digest.slice(0, 8)}`, role: t.role });
    }
  }
  return tokens;
}
