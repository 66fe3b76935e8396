import {
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isFedmeshError,
  parseManifest,
  type Resource,
} from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { documentsOf } from '../resources/apply.js';
import { schemas } from './schemas.js';

/**
 * `POST /v1/regions/{region}/preview`: what a region would receive if the posted manifests were
 * applied — the RFC 6902 ops and their encoded size on the line — without storing anything.
 * Read-only tokens may call it.
 */
export function registerPreviewRoute(root: FastifyInstance, deps: ApiDeps): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.post('/v1/regions/:region/preview', { schema: schemas.preview }, async (req) => {
    const { region } = req.params;
    await deps.engine.flush();
    if (!deps.engine.head(region)) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    const docs = documentsOf(req.body);
    const issues: FieldIssue[] = [];
    const proposed: Resource[] = [];
    docs.forEach((doc, i) => {
      try {
        proposed.push(parseManifest(doc));
      } catch (err) {
        if (!isFedmeshError(err, ErrorCode.Invalid)) throw err;
        for (const issue of err.issues)
          issues.push({ path: `documents.${i}.${issue.path}`, message: issue.message });
      }
    });
    if (issues.length) throw invalid(issues, 'invalid manifests');
    return deps.engine.preview(region, proposed);
  });
}
