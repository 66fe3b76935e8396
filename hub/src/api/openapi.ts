import { CLUSTER_NAMESPACE, type JsonSchema, KINDS, manifestJsonSchemas } from '@fedmesh/shared';
import { ApplyResult } from './apply.js';

/**
 * The OpenAPI 3.1 document of the admin API. Manifest schemas come from the same zod schemas
 * that validate requests (`manifestJsonSchemas`), so the document cannot drift from the server;
 * a test checks that every registered route is described here.
 */
export function buildOpenApi(opts: { version?: string } = {}): Record<string, unknown> {
  const manifests = manifestJsonSchemas();
  const schemas: Record<string, unknown> = {};
  for (const kind of KINDS) {
    const { $schema: _drop, ...schema } = manifests[kind];
    schemas[kind] = schema;
    schemas[`Stored${kind}`] = withRevision(schema);
  }
  Object.assign(schemas, {
    Manifest: { oneOf: KINDS.map((k) => ref(k)), discriminator: { propertyName: 'kind' } },
    StoredManifest: {
      oneOf: KINDS.map((k) => ref(`Stored${k}`)),
      discriminator: {
        propertyName: 'kind',
        mapping: Object.fromEntries(KINDS.map((k) => [k, `#/components/schemas/Stored${k}`])),
      },
    },
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: {
              type: 'string',
              description: 'Stable machine-readable code, e.g. invalid, not_found, revision_mismatch.',
            },
            message: {
              type: 'string',
              description: 'Says what is wrong, naming the field where there is one.',
            },
            issues: { type: 'array', items: ref('FieldIssue') },
            details: {
              type: 'object',
              additionalProperties: true,
              description: 'e.g. currentRevision on a 412.',
            },
          },
        },
      },
    },
    FieldIssue: {
      type: 'object',
      required: ['path', 'message'],
      properties: {
        path: { type: 'string', description: 'Dotted path of the field, e.g. spec.ports.0.port.' },
        message: { type: 'string' },
      },
    },
    ResourceRef: {
      type: 'object',
      required: ['kind', 'namespace', 'name'],
      properties: {
        kind: { type: 'string', enum: [...KINDS] },
        namespace: { type: 'string' },
        name: { type: 'string' },
      },
    },
    ResourceList: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('StoredManifest') } },
    },
    Deleted: {
      type: 'object',
      required: ['deleted', 'revision'],
      properties: {
        deleted: ref('ResourceRef'),
        revision: { type: 'integer', description: 'Revision of the deletion.' },
      },
    },
    JsonPatchOperation: {
      type: 'object',
      required: ['op', 'path'],
      description: 'One RFC 6902 operation.',
      properties: {
        op: { type: 'string', enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] },
        path: { type: 'string' },
        from: { type: 'string' },
        value: {},
      },
    },
    ApplyRequest: {
      description:
        'A list of manifests, a List object with items, or a single manifest (YAML bodies may hold many documents).',
      oneOf: [
        { type: 'array', items: ref('Manifest') },
        {
          type: 'object',
          required: ['items'],
          properties: {
            kind: { type: 'string', const: 'List' },
            items: { type: 'array', items: ref('Manifest') },
          },
        },
        ref('Manifest'),
      ],
    },
    ApplyItem: {
      type: 'object',
      required: ['index', 'result'],
      properties: {
        index: { type: 'integer', description: 'Position of the document in the request, from 0.' },
        kind: { type: 'string' },
        namespace: { type: 'string' },
        name: { type: 'string' },
        result: { type: 'string', enum: Object.values(ApplyResult) },
        revision: { type: 'integer' },
        message: { type: 'string' },
        issues: { type: 'array', items: ref('FieldIssue') },
        warnings: {
          type: 'array',
          items: ref('FieldIssue'),
          description:
            'Written all the same, but likely a mistake: dependsOn on a Service or exportTo to a Region that does not exist.',
        },
        patch: {
          type: 'array',
          items: ref('JsonPatchOperation'),
          description: 'Dry run: from what is stored to the document.',
        },
        diff: {
          type: 'array',
          items: { type: 'string' },
          description: 'Dry run: one readable line per operation.',
        },
      },
    },
    ApplyResponse: {
      type: 'object',
      required: ['dryRun', 'summary', 'items'],
      properties: {
        dryRun: { type: 'boolean' },
        summary: {
          type: 'object',
          properties: Object.fromEntries(Object.values(ApplyResult).map((r) => [r, { type: 'integer' }])),
        },
        items: { type: 'array', items: ref('ApplyItem') },
        error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
      },
    },
    HistoryResponse: {
      type: 'object',
      required: ['ref', 'items'],
      properties: {
        ref: ref('ResourceRef'),
        items: {
          type: 'array',
          items: {
            type: 'object',
            required: ['revision', 'time', 'op', 'action', 'actor'],
            properties: {
              revision: { type: 'integer' },
              time: { type: 'string', format: 'date-time' },
              op: { type: 'string', enum: ['put', 'delete'], description: "The store's word for the write." },
              action: {
                type: 'string',
                enum: ['create', 'update', 'delete'],
                description: 'The same write in the words of the audit log (GET /v1/changes).',
              },
              actor: {
                type: ['string', 'null'],
                description: 'Null when the audit log has no entry (e.g. written by another tool).',
              },
              resource: ref('Manifest'),
            },
          },
        },
      },
    },
    AuditEntry: {
      type: 'object',
      required: ['revision', 'time', 'actor', 'role', 'op', 'kind', 'namespace', 'name'],
      properties: {
        revision: { type: 'integer' },
        time: { type: 'string', format: 'date-time' },
        actor: { type: 'string', description: 'Name of the token (tokens file `name`), or anonymous.' },
        role: { type: 'string', enum: ['admin', 'read-only'] },
        op: { type: 'string', enum: ['create', 'update', 'delete'] },
        kind: { type: 'string', enum: [...KINDS] },
        namespace: { type: 'string' },
        name: { type: 'string' },
      },
    },
    ChangesResponse: {
      type: 'object',
      required: ['items', 'next'],
      properties: {
        items: { type: 'array', items: ref('AuditEntry') },
        next: {
          type: 'integer',
          description:
            'Pass as `since` to read what comes after this page (with order=desc: the newest revision in it).',
        },
      },
    },
    RegionSummary: {
      type: 'object',
      required: [
        'region',
        'desired',
        'applied',
        'inSync',
        'lag',
        'stale',
        'bytesSent',
        'budget',
        'connectedProxies',
        'lastError',
      ],
      properties: {
        region: { type: 'string' },
        desired: versionHash(),
        applied: { oneOf: [versionHash(), { type: 'null' }] },
        inSync: { type: 'boolean' },
        lag: { type: 'object', properties: { versions: { type: 'integer' }, seconds: { type: 'number' } } },
        drift: {
          type: 'object',
          description:
            'How long the applied hash has differed from the desired one, dated by the oldest publication the agent has not consumed; 0 and null in sync (fedmesh_hub_region_drift_seconds)',
          properties: {
            since: { type: ['string', 'null'], format: 'date-time' },
            seconds: { type: 'number' },
          },
        },
        stale: { type: 'boolean' },
        lastReportAt: { type: ['string', 'null'], format: 'date-time' },
        bytesSent: {
          type: 'integer',
          description:
            'Bytes this hub put on the region sync subject since it started, payload and headers; a publication JetStream deduplicated is not counted (fedmesh_hub_sync_bytes_sent_total)',
        },
        snapshotsSent: { type: 'integer' },
        deltasSent: { type: 'integer' },
        budget: {
          type: 'object',
          properties: {
            bytesPerSecond: { type: ['integer', 'null'] },
            burstBytes: { type: ['integer', 'null'] },
          },
        },
        connectedProxies: { type: 'integer' },
        nacks: { type: 'integer' },
        agent: { type: ['object', 'null'], additionalProperties: true },
        line: {
          type: 'object',
          description:
            'The region line: budget in force, what the agent receives, what waits on the stream and how long the budget needs for it',
          properties: {
            budgetBytesPerSecond: { type: ['number', 'null'] },
            burstBytes: { type: ['number', 'null'] },
            budgetSource: { type: ['string', 'null'], enum: ['agent', 'region', null] },
            bytesReceived: { type: ['number', 'null'] },
            receiveRate: { type: ['number', 'null'] },
            utilization: { type: ['number', 'null'] },
            queuedBytes: { type: 'number' },
            queuedMessages: { type: ['integer', 'null'] },
            drainSeconds: { type: ['number', 'null'] },
            compressionRatio: { type: ['number', 'null'] },
            transfer: { type: ['object', 'null'], additionalProperties: true },
            holdingSince: {
              type: ['string', 'null'],
              description:
                'Since when the hub holds intermediate states while the queue drains (coalescing under throttle); null when it does not',
            },
            coalescedRounds: {
              type: 'integer',
              description:
                'Publication rounds merged into a later one while the line was behind, since the hub started',
            },
          },
        },
        discovery: {
          type: 'object',
          required: ['services', 'lastReportAt', 'stale'],
          description:
            "The endpoints the region's agent discovered and the hub holds. They are kept when the agent goes silent, and marked stale after --endpoints-stale-after without a word from it.",
          properties: {
            services: { type: 'integer', description: 'Services whose ServiceEndpoints the agent owns' },
            lastReportAt: { type: ['string', 'null'], format: 'date-time' },
            stale: { type: 'boolean' },
          },
        },
        lastError: { type: ['string', 'null'] },
      },
    },
    ProxyList: {
      type: 'object',
      required: ['items'],
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            required: ['node', 'region', 'client', 'acked', 'nacks', 'state'],
            properties: {
              node: { type: 'string' },
              region: { type: 'string' },
              client: { type: ['string', 'null'] },
              protocol: { type: 'string', enum: ['sotw', 'delta'] },
              connectedAt: { type: 'string' },
              acked: {
                type: 'object',
                additionalProperties: { type: 'string' },
                description: 'type URL → version',
              },
              subscribed: {
                type: 'object',
                additionalProperties: { type: 'integer' },
                description: 'type URL → names subscribed (-1: a wildcard)',
              },
              nacks: {
                type: 'integer',
                description: 'NACKs of this node since its agent started, across reconnects',
              },
              lastNack: { type: ['object', 'null'], additionalProperties: true },
              state: { type: 'string', enum: ['SYNCED', 'STALE', 'NACKED'] },
            },
          },
        },
      },
    },
    RegionList: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: ref('RegionSummary') } },
    },
    RegionView: {
      type: 'object',
      required: ['region', 'version', 'hash', 'resources'],
      properties: {
        region: { type: 'string' },
        version: { type: 'integer' },
        hash: { type: 'string', description: 'sha256 hex of the canonical JSON of resources.' },
        resources: {
          type: 'object',
          additionalProperties: { type: 'object' },
          description: 'Keyed by <kind>/<namespace>/<name>.',
        },
      },
    },
  });

  const refParams = [
    pathParam('kind', 'Resource kind', { type: 'string', enum: [...KINDS] }),
    pathParam('namespace', `Namespace; "${CLUSTER_NAMESPACE}" for cluster-scoped kinds (Region)`, {
      type: 'string',
    }),
    pathParam('name', 'DNS-1123 label', {
      type: 'string',
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      maxLength: 63,
    }),
  ];
  const auth = [{ bearer: [] }];
  const ifMatch = {
    name: 'If-Match',
    in: 'header',
    description: 'Only if the stored revision (ETag) is this one; 412 otherwise.',
    schema: { type: 'string' },
  };
  const urgent = {
    name: 'urgent',
    in: 'query',
    description:
      'true: send the change on the urgent lane of every region whose line is behind (also the header Fedmesh-Urgent: true).',
    schema: { type: 'string', enum: ['true', 'false', '1', '0'] },
  };
  const etag = { ETag: { description: 'The revision, quoted', schema: { type: 'string' } } };
  const warning = {
    Warning: {
      description:
        'One per likely mistake the write was accepted with: `299 - "spec.dependsOn.0: Service shop/x does not exist (yet): …"` ' +
        '(a dependsOn on a Service or an exportTo to a Region that does not exist)',
      schema: { type: 'string' },
    },
  };
  const written = { ...etag, ...warning };
  const manifestBody = (required = true) => ({
    required,
    content: {
      'application/json': { schema: ref('Manifest') },
      'application/yaml': { schema: ref('Manifest') },
    },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'fedmesh hub admin API',
      version: opts.version ?? '0.1.0',
      description:
        'Mesh configuration as Kubernetes-style manifests (apiVersion fedmesh.io/v1). Every write returns the new ' +
        'config revision as ETag; If-Match gives optimistic concurrency. Bodies may be JSON or YAML.',
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'FEDMESH_ADMIN_TOKEN or a token from --tokens-file.',
        },
      },
      responses: {
        Invalid: errorResponse('Invalid input; issues name each offending field.'),
        Unauthorized: errorResponse('Missing or unknown bearer token.'),
        Forbidden: errorResponse('The token is read-only.'),
        NotFound: errorResponse('No such resource or route.'),
        Conflict: errorResponse('The resource exists already (create).'),
        PreconditionFailed: errorResponse(
          'The stored revision is not the one in If-Match (details.currentRevision).',
        ),
        TooLarge: errorResponse('The body is larger than --body-limit.'),
        UnsupportedMediaType: errorResponse('Bodies must be application/json or application/yaml.'),
        Unavailable: errorResponse('NATS or JetStream is unreachable; retry.'),
      },
    },
    paths: {
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Liveness and readiness',
          responses: {
            '200': jsonResponse('Ready', {
              type: 'object',
              properties: {
                status: { type: 'string' },
                revision: { type: 'integer' },
                build: { type: 'object', properties: { version: { type: 'string' } } },
              },
            }),
            '503': jsonResponse('Starting or disconnected from NATS', { type: 'object' }),
          },
        },
      },
      '/livez': {
        get: {
          operationId: 'livez',
          summary: 'Liveness: the process answers',
          responses: { '200': jsonResponse('Alive', { type: 'object' }) },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness: NATS and the config store answer',
          responses: {
            '200': jsonResponse('Ready', { type: 'object' }),
            '503': jsonResponse('Not ready', { type: 'object' }),
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: {
            '200': {
              description: 'Text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: { '200': jsonResponse('OpenAPI 3.1', { type: 'object' }) },
        },
      },
      '/ui': {
        get: {
          operationId: 'operatorPage',
          summary: 'The operator page (HTML; it reads the /v1 API with the token it asks for)',
          responses: { '200': textResponse('The page', 'text/html') },
        },
      },
      '/ui/app.js': {
        get: {
          operationId: 'operatorPageScript',
          summary: "The operator page's script (an ES module)",
          responses: { '200': textResponse('The script', 'text/javascript') },
        },
      },
      '/ui/app.css': {
        get: {
          operationId: 'operatorPageStyle',
          summary: "The operator page's style sheet",
          responses: { '200': textResponse('The style sheet', 'text/css') },
        },
      },
      '/v1/resources': {
        get: {
          operationId: 'listResources',
          summary: 'List resources, optionally by kind and namespace',
          security: auth,
          parameters: [
            { name: 'kind', in: 'query', schema: { type: 'string', enum: [...KINDS] } },
            { name: 'namespace', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': jsonResponse('Resources, sorted by kind, namespace, name', ref('ResourceList')),
            ...common(false),
          },
        },
        post: {
          operationId: 'createResource',
          summary: 'Create a resource; 409 if it exists',
          security: auth,
          requestBody: manifestBody(),
          responses: {
            '201': {
              ...jsonResponse('Created', ref('StoredManifest')),
              headers: { ...written, Location: { schema: { type: 'string' } } },
            },
            '409': { $ref: '#/components/responses/Conflict' },
            ...common(true),
          },
        },
      },
      '/v1/resources/{kind}/{namespace}/{name}': {
        parameters: refParams,
        get: {
          operationId: 'getResource',
          summary: 'Read a resource; ETag is its revision',
          security: auth,
          responses: {
            '200': {
              ...jsonResponse('The resource, with metadata.revision', ref('StoredManifest')),
              headers: etag,
            },
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(false),
          },
        },
        put: {
          operationId: 'putResource',
          summary: 'Create or replace a resource',
          description:
            'If-Match (or metadata.revision in the body) makes the write conditional; If-None-Match: * makes it create-only. ' +
            'A body identical to what is stored writes nothing and returns the stored revision.',
          security: auth,
          parameters: [
            ifMatch,
            urgent,
            {
              name: 'If-None-Match',
              in: 'header',
              description: '"*": create only, 409 if it exists',
              schema: { type: 'string', const: '*' },
            },
          ],
          requestBody: manifestBody(),
          responses: {
            '200': { ...jsonResponse('Replaced (or unchanged)', ref('StoredManifest')), headers: written },
            '201': { ...jsonResponse('Created', ref('StoredManifest')), headers: written },
            '409': { $ref: '#/components/responses/Conflict' },
            '412': { $ref: '#/components/responses/PreconditionFailed' },
            ...common(true),
          },
        },
        delete: {
          operationId: 'deleteResource',
          summary: 'Delete a resource',
          security: auth,
          parameters: [ifMatch, urgent],
          responses: {
            '200': jsonResponse('Deleted', ref('Deleted')),
            '404': { $ref: '#/components/responses/NotFound' },
            '412': { $ref: '#/components/responses/PreconditionFailed' },
            ...common(true),
          },
        },
      },
      '/v1/resources/{kind}/{namespace}/{name}/history': {
        parameters: refParams,
        get: {
          operationId: 'resourceHistory',
          summary: 'Past writes of a resource, oldest first, with who made them',
          security: auth,
          responses: {
            '200': jsonResponse('History (bounded by the store: the last 64 writes)', ref('HistoryResponse')),
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(false),
          },
        },
      },
      '/v1/apply': {
        post: {
          operationId: 'apply',
          summary: 'Apply many manifests at once',
          description:
            'Validates every document first (references may point at other documents of the request); if any is invalid, ' +
            'nothing is written (400). Writes go in dependency order; identical documents are reported unchanged and not ' +
            'written. With dryRun=true nothing is written and each document carries its diff against the store. ' +
            'Read-only tokens may dry-run.',
          security: auth,
          parameters: [
            { name: 'dryRun', in: 'query', schema: { type: 'string', enum: ['true', 'false'] } },
            urgent,
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('ApplyRequest') },
              'application/yaml': {
                schema: { type: 'string', description: 'One or more YAML documents separated by ---' },
              },
            },
          },
          responses: {
            ...common(true),
            '200': jsonResponse('A result per document', ref('ApplyResponse')),
            '400': jsonResponse('Some documents are invalid; nothing was written', ref('ApplyResponse')),
            '409': jsonResponse('Some documents conflicted with concurrent changes', ref('ApplyResponse')),
            '503': jsonResponse(
              'The store failed part way; later documents were skipped',
              ref('ApplyResponse'),
            ),
          },
        },
      },
      '/v1/changes': {
        get: {
          operationId: 'changes',
          summary: 'Audit log: every write through the API, in revision order (order=desc: newest first)',
          security: auth,
          parameters: [
            {
              name: 'since',
              in: 'query',
              description: 'Only revisions above this one',
              schema: { type: 'integer', minimum: 0 },
            },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
            {
              name: 'order',
              in: 'query',
              description:
                'asc: the oldest entries after `since`, oldest first; desc: the newest, newest first',
              schema: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
            },
          ],
          responses: { '200': jsonResponse('Entries', ref('ChangesResponse')), ...common(false) },
        },
      },
      '/v1/regions': {
        get: {
          operationId: 'listRegions',
          summary: 'Sync status of every region',
          security: auth,
          responses: { '200': jsonResponse('Regions', ref('RegionList')), ...common(false) },
        },
      },
      '/v1/regions/{region}': {
        parameters: [pathParam('region', 'Region name', { type: 'string' })],
        get: {
          operationId: 'getRegion',
          summary: 'Sync status of one region: desired against applied, lag, bytes, budget, proxies',
          security: auth,
          responses: {
            '200': jsonResponse('Region status', ref('RegionSummary')),
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(false),
          },
        },
      },
      '/v1/regions/{region}/preview': {
        parameters: [pathParam('region', 'Region name', { type: 'string' })],
        post: {
          operationId: 'previewRegion',
          summary: 'The ops the region would receive if these manifests were applied, and their encoded size',
          description:
            'Stores nothing. Body: a JSON list, a List with items, one manifest, or multi-document YAML.',
          security: auth,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { oneOf: [ref('Manifest'), { type: 'array', items: ref('Manifest') }] },
              },
              'application/yaml': { schema: { type: 'string' } },
            },
          },
          responses: {
            '200': jsonResponse('Preview', {
              type: 'object',
              required: [
                'region',
                'fromHash',
                'toHash',
                'ops',
                'codec',
                'rawBytes',
                'encodedBytes',
                'messages',
              ],
              properties: {
                region: { type: 'string' },
                fromHash: { type: 'string' },
                toHash: { type: 'string' },
                ops: { type: 'array', items: { type: 'object', description: 'RFC 6902 operation' } },
                codec: { type: 'string', enum: ['br', 'gzip', 'identity'] },
                rawBytes: { type: 'integer', description: 'Canonical JSON of the ops, uncompressed' },
                encodedBytes: { type: 'integer', description: 'Compressed payload bytes' },
                messages: { type: 'integer', description: 'Sync messages (chunks) the delta takes' },
              },
            }),
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(true),
          },
        },
      },
      '/v1/regions/{region}/proxies': {
        parameters: [pathParam('region', 'Region name', { type: 'string' })],
        get: {
          operationId: 'listRegionProxies',
          summary: "The node proxies connected to the region's agent, as its last report says",
          security: auth,
          responses: {
            '200': jsonResponse('Proxies', ref('ProxyList')),
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(false),
          },
        },
      },
      '/v1/regions/{region}/view': {
        parameters: [pathParam('region', 'Region name', { type: 'string' })],
        get: {
          operationId: 'getRegionView',
          summary: 'The scoped view the region should hold',
          security: auth,
          responses: {
            '200': jsonResponse('Region view', ref('RegionView')),
            '404': { $ref: '#/components/responses/NotFound' },
            ...common(false),
          },
        },
      },
    },
  };
}

function ref(name: string) {
  return { $ref: `#/components/schemas/${name}` };
}

/** Responses read back `metadata.revision`, which input manifests may carry too. */
function withRevision(schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema) as {
    properties?: { metadata?: { properties?: Record<string, unknown> } };
  };
  const meta = copy.properties?.metadata?.properties;
  if (meta)
    meta.revision = {
      type: 'integer',
      minimum: 0,
      description: 'Config revision of the last write (the ETag).',
    };
  return copy as JsonSchema;
}

function versionHash() {
  return { type: 'object', properties: { version: { type: 'integer' }, hash: { type: 'string' } } };
}

function pathParam(name: string, description: string, schema: unknown) {
  return { name, in: 'path', required: true, description, schema };
}

function jsonResponse(description: string, schema: unknown) {
  return { description, content: { 'application/json': { schema } } };
}

function textResponse(description: string, type: string) {
  return { description, content: { [type]: { schema: { type: 'string' } } } };
}

function errorResponse(description: string) {
  return jsonResponse(description, ref('Error'));
}

function common(writes: boolean) {
  const out: Record<string, unknown> = {
    '400': { $ref: '#/components/responses/Invalid' },
    '401': { $ref: '#/components/responses/Unauthorized' },
    '503': { $ref: '#/components/responses/Unavailable' },
  };
  if (writes) {
    out['403'] = { $ref: '#/components/responses/Forbidden' };
    out['413'] = { $ref: '#/components/responses/TooLarge' };
    out['415'] = { $ref: '#/components/responses/UnsupportedMediaType' };
  }
  return out;
}
