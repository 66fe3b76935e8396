/**
 * The registration API on the agent's status listener (External contract):
 *   PUT    /v1/registrations/{namespace}/{service}/{id}            201 created, 200 replaced
 *   PUT    /v1/registrations/{namespace}/{service}/{id}/heartbeat  200 (a TTL heartbeat)
 *   DELETE /v1/registrations/{namespace}/{service}/{id}            204
 *   GET    /v1/registrations                                       {items: [... with health]}
 * Bad input is a 400 naming the field; an unknown registration a 404; one that belongs to the
 * `--registrations` file a 409 saying so.
 */
import {
  DnsLabel,
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isFedmeshError,
  toFieldIssues,
} from '@fedmesh/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RegistrationBodySchema, RegistrationId, type RegistrationKey } from './registration.js';
import type { Registry } from './registry.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.Invalid]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409,
};

type Params = { namespace: string; service: string; id: string };

export function registerRegistrationRoutes(app: FastifyInstance, registry: Registry): void {
  const keyOf = (p: Params): RegistrationKey => {
    const issues: FieldIssue[] = [];
    if (!DnsLabel.safeParse(p.namespace).success)
      issues.push({ path: 'namespace', message: 'must be a DNS-1123 label' });
    if (!DnsLabel.safeParse(p.service).success)
      issues.push({ path: 'service', message: 'must be a DNS-1123 label' });
    const id = RegistrationId.safeParse(p.id);
    if (!id.success) issues.push({ path: 'id', message: id.error.issues[0]!.message });
    if (issues.length) throw invalid(issues, 'invalid registration path');
    return { namespace: p.namespace, service: p.service, id: p.id };
  };
  const fail = (reply: FastifyReply, err: unknown) => {
    if (!isFedmeshError(err)) throw err;
    const status = STATUS[err.code] ?? 500;
    return reply.code(status).send({
      error: { code: err.code, message: err.message, ...(err.issues.length ? { issues: err.issues } : {}) },
    });
  };

  app.get('/v1/registrations', async () => ({ items: registry.list() }));

  app.put<{ Params: Params }>('/v1/registrations/:namespace/:service/:id', async (req, reply) => {
    try {
      const key = keyOf(req.params);
      const body = RegistrationBodySchema.safeParse(req.body ?? undefined);
      if (!body.success) throw invalid(toFieldIssues(body.error.issues), 'invalid registration');
      const { created } = await registry.put(key, body.data);
      const item = registry
        .list()
        .find((r) => r.namespace === key.namespace && r.service === key.service && r.id === key.id);
      return reply.code(created ? 201 : 200).send(item);
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.put<{ Params: Params }>('/v1/registrations/:namespace/:service/:id/heartbeat', async (req, reply) => {
    try {
      const key = keyOf(req.params);
      if (!registry.heartbeat(key))
        throw new FedmeshError(
          ErrorCode.NotFound,
          `no registration ${key.namespace}/${key.service}/${key.id}`,
        );
      return reply.code(200).send({ ok: true });
    } catch (err) {
      return fail(reply, err);
    }
  });

  app.delete<{ Params: Params }>('/v1/registrations/:namespace/:service/:id', async (req, reply) => {
    try {
      const key = keyOf(req.params);
      if (!(await registry.delete(key)))
        throw new FedmeshError(
          ErrorCode.NotFound,
          `no registration ${key.namespace}/${key.service}/${key.id}`,
        );
      return reply.code(204).send();
    } catch (err) {
      return fail(reply, err);
    }
  });
}
