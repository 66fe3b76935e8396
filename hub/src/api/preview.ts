import {
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isDnsLabel,
  isFedmeshError,
  parseManifest,
  type Resource,
} from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import { documentsOf } from './apply.js';
import type { ApiDeps } from './server.js';

/**
 * `POST /v1/regions/{region}/preview`: what a region would receive if the posted manifests were
 * applied — the RFC 6902 ops and their encoded size on the line — without storing anything.
 * Read-only tokens may call it.
 */
export function registerPreviewRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.post<{ Params: { region: string } }>('/v1/regions/:region/preview', async (req) => {
    const { region } = req.params;
    if (!isDnsLabel(region)) throw invalid([{ path: 'region', message: 'must be a DNS-1123 label' }]);
    await deps.engine.flush();
    if (!deps.engine.view(region)) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
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
