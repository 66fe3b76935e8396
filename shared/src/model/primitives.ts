import { isIP } from 'node:net';
import { z } from 'zod';
import { parseByteRate, parseByteSize, parseDuration } from './quantity.js';

/**
 * Field types shared by the kind schemas. Everything user-supplied is bounded in length: the
 * hub stores manifests and ships them over thin lines, so a 1 MB "name" is an error, not data.
 */

export const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL_HINT =
  "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit";

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL_RE.test(s);
}

/** Names of resources, namespaces, regions, ports, subsets. */
export const DnsLabel = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(DNS_LABEL_RE, DNS_LABEL_HINT);

// Kubernetes label syntax: optional DNS-subdomain prefix, then a 63-char name. Keeping it means
// `key=value,…` selectors can never be ambiguous (no '=' or ',' inside keys or values).
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_PREFIX = '[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?';
export const LABEL_KEY_RE = new RegExp(`^(${LABEL_PREFIX}/)?${LABEL_NAME}$`);
export const LABEL_VALUE_RE = new RegExp(`^(${LABEL_NAME})?$`);

export const LabelKey = z
  .string()
  .max(317, 'label key is too long')
  .regex(
    LABEL_KEY_RE,
    'label key must be [prefix/]name with name of at most 63 letters, digits, "-", "_", "."',
  );
export const LabelValue = z
  .string()
  .max(63, 'label value must be at most 63 characters')
  .regex(
    LABEL_VALUE_RE,
    'label value must be empty or letters, digits, "-", "_", "." starting and ending alphanumeric',
  );
export const Labels = z.record(LabelKey, LabelValue);
export const Annotations = z.record(LabelKey, z.string().max(65536, 'annotation value is too long'));

export const PortNumber = z
  .int('must be an integer')
  .min(1, 'must be 1..65535')
  .max(65535, 'must be 1..65535');
export const Weight = z
  .int('must be an integer')
  .min(0, 'must be >= 0')
  .max(0xffffffff, 'must fit in 32 bits');
export const PositiveInt = z
  .int('must be an integer')
  .min(1, 'must be > 0')
  .max(0xffffffff, 'must fit in 32 bits');
export const NonNegativeInt = z
  .int('must be an integer')
  .min(0, 'must be >= 0')
  .max(0xffffffff, 'must fit in 32 bits');

const HOSTNAME_RE =
  /^(?=.{1,253}$)([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$/;
export function isIpOrHostname(s: string): boolean {
  return isIP(s) !== 0 || HOSTNAME_RE.test(s);
}
/** An IPv4/IPv6 address or a DNS hostname (Envoy resolves hostnames with STRICT_DNS). */
export const Address = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .refine(isIpOrHostname, 'must be an IP address or a DNS hostname');

/** Free-form but bounded text, for things like zones whose format belongs to the platform. */
export const ShortText = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters');

/** Runs a quantity parser and turns its exception into a zod issue with the parser's message. */
function quantityCheck<T>(parse: (v: T) => number, min: number, max: { value: number; text: string }) {
  return (v: T, ctx: z.RefinementCtx) => {
    try {
      const n = parse(v);
      if (n < min)
        ctx.addIssue({ code: 'custom', message: min > 0 ? 'must be greater than 0' : `must be >= ${min}` });
      else if (n > max.value) ctx.addIssue({ code: 'custom', message: `must be at most ${max.text}` });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

/**
 * Upper bounds: beyond them a value is a typo or an attack, and arithmetic on it (a budget of
 * 1e308 bytes/s times a window) stops meaning anything.
 */
export const MAX_BYTE_RATE = { value: 100e9 / 8, text: '100Gbit/s (12500000000 bytes/s)' };
export const MAX_BYTE_SIZE = { value: 2 ** 40, text: '1TiB' };
export const MAX_DURATION = { value: 30 * 24 * 3600_000, text: '720h (30 days)' };

/** Bytes per second: a number or a string like `256KiB/s`, `2Mbit/s`. Kept as written. */
export const ByteRate = z
  .union([z.number(), z.string()], {
    error: 'expected a byte rate such as "256KiB/s" or a number of bytes/s',
  })
  .superRefine(quantityCheck(parseByteRate, Number.MIN_VALUE, MAX_BYTE_RATE))
  .describe('bytes per second: a number or a string such as "256KiB/s", "2Mbit/s", "100KB/s"');
export type ByteRate = string | number;

/** Bytes: a number or a string like `64KiB`, `1MB`. Kept as written. */
export const ByteSize = z
  .union([z.number(), z.string()], { error: 'expected a byte size such as "64KiB" or a number of bytes' })
  .superRefine(quantityCheck(parseByteSize, 1, MAX_BYTE_SIZE))
  .describe('bytes: a number or a string such as "64KiB", "1MB"');
export type ByteSize = string | number;

/** A duration string like `100ms`, `2s`, `1m30s`. Kept as written. */
export const Duration = z
  .string('expected a duration string such as "2s"')
  .superRefine(quantityCheck(parseDuration, 0, MAX_DURATION))
  .describe('a duration such as "100ms", "2s", "1m30s", "1h"');
export type Duration = string;

/** Durations that Envoy rejects at zero (intervals, ejection times). */
export const PositiveDuration = z
  .string('expected a duration string such as "2s"')
  .superRefine(quantityCheck(parseDuration, Number.MIN_VALUE, MAX_DURATION))
  .describe('a duration greater than zero such as "10s"');

/** Adds an issue at `[i, ...field]` for each element whose key was already seen. */
export function uniqueBy<T>(key: (item: T) => unknown, field: (string | number)[], what: string) {
  return (items: readonly T[], ctx: z.RefinementCtx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      const k = key(item);
      if (k === undefined) return;
      if (seen.has(k))
        ctx.addIssue({ code: 'custom', path: [i, ...field], message: `duplicate ${what} ${String(k)}` });
      seen.add(k);
    });
  };
}

/** Adds an issue unless exactly one of `keys` is set on the object. */
export function exactlyOne(keys: readonly string[]) {
  return (obj: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const set = keys.filter((k) => obj[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `exactly one of ${keys.join(', ')} must be set${set.length ? ` (got ${set.join(', ')})` : ''}`,
      });
    }
  };
}
