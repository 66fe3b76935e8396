import type { Duplex } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import { BUILD, ErrorCode, type FieldIssue, invalid } from '@fedmesh/shared';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifySchemaCompiler,
  LogController,
} from 'fastify';
import {
  createJsonSchemaTransform,
  createJsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { registerAuth } from './auth.js';
import { registerChangeRoutes } from './changes/routes.js';
import type { ApiDeps } from './deps.js';
import { checkDepth, parseYamlBody } from './documents.js';
import { toHttpError } from './errors.js';
import { registerPreviewRoute } from './regions/preview.js';
import { registerRegionRoutes } from './regions/routes.js';
import { registerApplyRoute } from './resources/apply.js';
import { registerResourceRoutes } from './resources/routes.js';
import { API_SCHEMAS, isDocumentedOnly } from './schemas.js';
import { registerSystemRoutes } from './system/routes.js';
import { createWriter } from './writes.js';

export type { ApiDeps };

export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Builds the admin API. Tests drive it with `inject()`; `main.ts` calls `listen()`. */
export function buildServer(deps: ApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are counted and timed in /metrics; a log line each would drown the useful ones.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit,
    return503OnClosing: true,
    // Names are DNS labels and kinds are short: a long URL is an attack or a mistake.
    routerOptions: { maxParamLength: 512 },
    // Requests Node's HTTP parser refuses (bytes a request line may not hold, headers over the
    // limit) never reach Fastify; they get our error body too, not a framework's.
    clientErrorHandler: (err, socket) => writeClientError(err as NodeJS.ErrnoException, socket),
    // Errors Fastify raises before routing (a URL that does not decode) get the same body as ours.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toHttpError(err);
      (reply as FastifyReply).code(status).send(body);
    },
    // What a route's zod schemas refuse is a 400 like any other: one issue per offending field.
    schemaErrorFormatter: (errors, context) =>
      invalid(
        errors.map(
          (e): FieldIssue => ({
            path: e.instancePath.replace(/^\//, '').replaceAll('/', '.'),
            message: e.message ?? 'invalid',
          }),
        ),
        context === 'body' ? 'invalid body' : 'invalid input',
      ),
  });
  app.setValidatorCompiler(validate);
  app.setSerializerCompiler(serializerCompiler);
  // Registered before any route, so that it sees them all (it listens on onRoute).
  app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'fedmesh hub admin API',
        version: BUILD.version,
        description:
          'Mesh configuration as Kubernetes-style manifests (apiVersion fedmesh.io/v1). Every write returns the new ' +
          'config revision as ETag; If-Match gives optimistic concurrency. Bodies may be JSON or YAML. Generated from ' +
          'the zod schemas the routes declare.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'FEDMESH_ADMIN_TOKEN or a token from --tokens-file.',
          },
        },
      },
    },
    transform: (doc) => {
      const out = transform(doc);
      // Every /v1 route needs the token (registerAuth); the rest are public.
      if (doc.url.startsWith('/v1/') && out.schema && !out.schema.hide) {
        (out.schema as Record<string, unknown>).security = [{ bearer: [] }];
      }
      return out;
    },
    transformObject: createJsonSchemaTransformObject({ schemaRegistry: API_SCHEMAS }),
  });
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  app.decorate('fedmeshRoutes', routes);

  // Only JSON and YAML: anything else is a 415, not a string handed to a route.
  app.removeContentTypeParser(['text/plain']);
  // Some clients send a JSON content type on a bodiless DELETE; that is no reason to refuse it.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && req.method !== 'PUT' && req.method !== 'POST') done(null, undefined);
    else
      json(req, body as string, (err, value) => {
        if (err) return done(err, undefined);
        try {
          checkDepth(value, 'the JSON document');
          done(null, value);
        } catch (e) {
          done(e as Error, undefined);
        }
      });
  });

  // YAML bodies arrive as one document or many; routes see plain values either way.
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseYamlBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ error: { code: ErrorCode.NotFound, message: `no route ${req.method} ${truncate(req.url)}` } });
  });

  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the raw URL: label values stay bounded whatever clients send.
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  // In a plugin, like /v1, so that the swagger plugin above is loaded when they register.
  app.register(async (system) => registerSystemRoutes(system, deps));

  const writer = createWriter({
    ...deps,
    onUrgent: (ref) => deps.engine.markUrgent(ref),
    cached: (ref) => deps.engine.stored(ref),
  });
  app.register(async (v1) => {
    registerAuth(v1, deps.auth);
    registerResourceRoutes(v1, deps, writer);
    registerApplyRoute(v1, deps, writer);
    registerChangeRoutes(v1, deps, writer);
    registerRegionRoutes(v1, deps);
    registerPreviewRoute(v1, deps);
  });
  return app;
}

/** A raw HTTP answer to a request the parser refused, then the socket closes. */
function writeClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : err.code === 'HPE_REQUEST_TIMEOUT' ? 408 : 400;
  const message = tooLarge
    ? 'request headers are too large'
    : status === 408
      ? 'the request did not arrive in time'
      : `malformed HTTP request (${err.code ?? 'unreadable'}): a request line and headers hold ASCII only`;
  const body = JSON.stringify({ error: { code: ErrorCode.Invalid, message } });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

const transform = createJsonSchemaTransform({ schemaRegistry: API_SCHEMAS });

/** The type provider's validator, except for bodies the model's own parser checks (`documentedOnly`). */
const validate: FastifySchemaCompiler<ZodType> = (route) =>
  route.httpPart === 'body' && isDocumentedOnly(route.schema)
    ? (data) => ({ value: data })
    : validatorCompiler(route);

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered (method and URL pattern), for the OpenAPI completeness test. */
    fedmeshRoutes: readonly { method: string; url: string }[];
  }
}
