/**
 * A local registration (DESIGN.md "Discovery and the uplink", External contract): an endpoint of
 * an IDC or VM site, registered with its region's agent over `PUT /v1/registrations/...` or
 * listed in `--registrations <file>`, with an optional active health check and TTL heartbeat.
 */

import { Address, DnsLabel, Duration, Labels, PortNumber, parseDuration, ShortText } from '@fedmesh/shared';
import { z } from 'zod';

/** The active check: a TCP connect, an HTTP GET of a path (2xx/3xx is healthy), or grpc.health.v1. */
export const CheckSchema = z.union(
  [
    z.strictObject({ tcp: z.literal(true) }),
    z.strictObject({
      http: z
        .string()
        .regex(/^\/[^\s]*$/, 'must be a path starting with "/"')
        .max(1024),
    }),
    z.strictObject({ grpc: z.literal(true), service: z.string().max(256).optional() }),
  ],
  { error: 'must be {tcp: true}, {http: "/path"} or {grpc: true}' },
);
export type Check = z.output<typeof CheckSchema>;

/** What `PUT /v1/registrations/{namespace}/{service}/{id}` takes. */
export const RegistrationBodySchema = z.strictObject({
  address: Address,
  port: PortNumber,
  zone: ShortText.optional(),
  labels: Labels.optional(),
  check: CheckSchema.optional(),
  /** Between two checks (default 10s). */
  interval: Duration.optional(),
  /** A check slower than this fails (default 2s, at most the interval). */
  timeout: Duration.optional(),
  /** Unhealthy once this passes without a heartbeat (none by default). */
  ttl: Duration.optional(),
  /** Consecutive passes that make an unhealthy endpoint healthy (default 2; 1 at registration). */
  rise: z.int().min(1).max(100).optional(),
  /** Consecutive failures that make a healthy endpoint unhealthy (default 3). */
  fall: z.int().min(1).max(100).optional(),
});
export type RegistrationBody = z.output<typeof RegistrationBodySchema>;

/** The id part of the path: like a DNS label, or a little looser (instance ids often have dots). */
export const RegistrationId = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'letters, digits, ".", "_" and "-", starting with a letter or digit',
  );

/** A file entry names itself. */
export const RegistrationFileEntrySchema = RegistrationBodySchema.extend({
  namespace: DnsLabel,
  service: DnsLabel,
  id: RegistrationId,
});
export const RegistrationsFileSchema = z.array(RegistrationFileEntrySchema);

export interface RegistrationKey {
  namespace: string;
  service: string;
  id: string;
}

export interface Registration extends RegistrationKey, RegistrationBody {
  source: 'api' | 'file';
}

export const keyOf = (r: RegistrationKey) => `${r.namespace}/${r.service}/${r.id}`;

export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 2_000;
export const DEFAULT_RISE = 2;
export const DEFAULT_FALL = 3;

/** The timings of a registration in milliseconds, defaults applied. */
export function timingsOf(r: RegistrationBody): {
  intervalMs: number;
  timeoutMs: number;
  ttlMs: number | undefined;
  rise: number;
  fall: number;
} {
  const intervalMs = Math.max(100, r.interval ? parseDuration(r.interval) : DEFAULT_INTERVAL_MS);
  const timeoutMs = Math.min(
    intervalMs,
    Math.max(50, r.timeout ? parseDuration(r.timeout) : DEFAULT_TIMEOUT_MS),
  );
  return {
    intervalMs,
    timeoutMs,
    ttlMs: r.ttl ? Math.max(1, parseDuration(r.ttl)) : undefined,
    rise: r.rise ?? DEFAULT_RISE,
    fall: r.fall ?? DEFAULT_FALL,
  };
}
