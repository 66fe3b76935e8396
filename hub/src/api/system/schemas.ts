import { z } from 'zod';

const Build = z.object({ version: z.string() }).describe('The software, as `--version` says');

export const HealthSchema = z.object({
  status: z.enum(['ok', 'starting']),
  revision: z.number().int().describe('The config revision the engine has seen'),
  build: Build,
});

function text(description: string, type: string) {
  return { description, content: { [type]: { schema: z.string() } } };
}

export const schemas = {
  healthz: {
    summary: 'Health: ok once NATS and the engine are up (503 while starting); carries the build',
    response: { 200: HealthSchema, 503: HealthSchema },
  },
  livez: {
    summary: 'Liveness: the process answers',
    response: { 200: z.object({ status: z.literal('ok'), build: Build }) },
  },
  readyz: {
    summary: 'Readiness: NATS and the config store answer',
    response: { 200: z.object({ status: z.string() }), 503: z.object({ status: z.string() }) },
  },
  metrics: {
    summary: 'Prometheus metrics',
    response: { 200: text('Text exposition format', 'text/plain') },
  },
  openapi: {
    summary: 'This document (OpenAPI 3.1), generated from the schemas the routes declare',
    response: { 200: z.looseObject({ openapi: z.string() }) },
  },
  ui: (what: string, type: string) => ({ summary: what, response: { 200: text(what, type) } }),
} as const;
