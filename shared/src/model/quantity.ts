/**
 * Quantities as users write them (`256KiB/s`, `2Mbit/s`, `1m30s`). Manifests keep the user's
 * string, like Kubernetes quantities; code that needs a number calls these parsers. They are
 * zod-free so that the agent's pacer and the hub can use them on already-validated values.
 */

/** Byte multipliers. SI prefixes are powers of 1000, binary ones (`Ki`) powers of 1024. */
const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  k: 1e3,
  K: 1e3,
  kB: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  Ki: 1024,
  KiB: 1024,
  Mi: 1024 ** 2,
  MiB: 1024 ** 2,
  Gi: 1024 ** 3,
  GiB: 1024 ** 3,
  Ti: 1024 ** 4,
  TiB: 1024 ** 4,
};

/** Bit multipliers, already divided by 8 so that they yield bytes. */
const BIT_UNITS: Readonly<Record<string, number>> = {
  bit: 1 / 8,
  kbit: 1e3 / 8,
  Kbit: 1e3 / 8,
  Mbit: 1e6 / 8,
  Gbit: 1e9 / 8,
  Kibit: 1024 / 8,
  Mibit: 1024 ** 2 / 8,
  Gibit: 1024 ** 3 / 8,
};

/** `bps` spellings are rates on their own (no `/s`). */
const BPS_UNITS: Readonly<Record<string, number>> = {
  bps: 1 / 8,
  kbps: 1e3 / 8,
  Kbps: 1e3 / 8,
  Mbps: 1e6 / 8,
  Gbps: 1e9 / 8,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const QUANTITY_RE = new RegExp(`^${NUMBER}\\s?([A-Za-z]*)(/s)?$`);
const DURATION_PART_RE = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;
// Longer than any sensible quantity; stops pathological input before any regex work.
const MAX_TEXT = 64;

export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

function describe(v: unknown): string {
  const s =
    typeof v === 'string' ? JSON.stringify(v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT)}…` : v) : String(v);
  return s;
}

function checkNumber(v: number, what: string): number {
  if (!Number.isFinite(v) || v < 0) throw new QuantityError(`${what} must be a finite number >= 0, got ${v}`);
  return v;
}

function checkResult(n: number, raw: string, what: string): number {
  if (!Number.isFinite(n) || n > Number.MAX_SAFE_INTEGER) {
    throw new QuantityError(`${what} ${describe(raw)} is too large`);
  }
  return n;
}

/**
 * Bytes per second. Accepts a plain number (bytes/s) or `<number><unit>/s` where unit is a
 * byte unit (`B`, `KB`, `KiB`, `MB`, `MiB`, …) or a bit unit (`bit`, `kbit`, `Mbit`, …),
 * or `<number>bps|kbps|Mbps|Gbps`. Bits are divided by 8.
 */
export function parseByteRate(v: string | number): number {
  if (typeof v === 'number') return checkNumber(v, 'byte rate');
  if (typeof v !== 'string') throw new QuantityError(`byte rate must be a string or number, got ${typeof v}`);
  const m = v.length <= MAX_TEXT ? QUANTITY_RE.exec(v.trim()) : null;
  const hint = 'expected a number of bytes/s or a rate such as "256KiB/s", "2Mbit/s", "100KB/s"';
  if (!m) throw new QuantityError(`invalid byte rate ${describe(v)}: ${hint}`);
  const [, num, unit = '', perSecond] = m;
  let factor: number | undefined;
  if (perSecond) {
    factor = BYTE_UNITS[unit] ?? BIT_UNITS[unit];
  } else if (unit === '') {
    factor = 1;
  } else if (BPS_UNITS[unit] !== undefined) {
    factor = BPS_UNITS[unit];
  } else if (BYTE_UNITS[unit] !== undefined || BIT_UNITS[unit] !== undefined) {
    // A size where a rate belongs is usually a mistake worth pointing out, not guessing.
    throw new QuantityError(`invalid byte rate ${describe(v)}: a rate needs "/s" (e.g. "${num}${unit}/s")`);
  }
  if (factor === undefined)
    throw new QuantityError(`invalid byte rate ${describe(v)}: unknown unit "${unit}"`);
  return checkResult(Number(num) * factor, v, 'byte rate');
}

/** Bytes. Accepts a plain number or `<number><unit>` with a byte unit (`64KiB`, `1MB`, `512`). */
export function parseByteSize(v: string | number): number {
  let n: number;
  if (typeof v === 'number') {
    n = checkNumber(v, 'byte size');
  } else if (typeof v === 'string') {
    const m = v.length <= MAX_TEXT ? QUANTITY_RE.exec(v.trim()) : null;
    if (!m || m[3]) {
      throw new QuantityError(
        `invalid byte size ${describe(v)}: expected a number of bytes or a size such as "64KiB", "1MB"`,
      );
    }
    const factor = BYTE_UNITS[m[2] ?? ''];
    if (factor === undefined)
      throw new QuantityError(`invalid byte size ${describe(v)}: unknown unit "${m[2]}"`);
    n = checkResult(Number(m[1]) * factor, v, 'byte size');
  } else {
    throw new QuantityError(`byte size must be a string or number, got ${typeof v}`);
  }
  if (!Number.isInteger(n))
    throw new QuantityError(`byte size ${describe(v)} is not a whole number of bytes`);
  return n;
}

/**
 * Milliseconds, from a Go/Envoy-style duration: one or more `<number><unit>` parts with units
 * `ms`, `s`, `m`, `h` (`100ms`, `2s`, `1m30s`, `1.5h`). A bare `0` is allowed; other unitless
 * numbers are rejected because seconds-or-milliseconds is exactly the ambiguity to avoid.
 */
export function parseDuration(v: string): number {
  if (typeof v !== 'string')
    throw new QuantityError(`duration must be a string such as "2s", got ${typeof v}`);
  const hint = 'expected a duration such as "100ms", "2s", "1m30s", "1h"';
  if (v === '0') return 0;
  if (v.length === 0 || v.length > MAX_TEXT)
    throw new QuantityError(`invalid duration ${describe(v)}: ${hint}`);
  let total = 0;
  DURATION_PART_RE.lastIndex = 0;
  while (DURATION_PART_RE.lastIndex < v.length) {
    const start = DURATION_PART_RE.lastIndex;
    const m = DURATION_PART_RE.exec(v);
    if (!m) {
      const rest = v.slice(start);
      const why = /^\d+(\.\d+)?$/.test(rest) ? `missing unit after "${rest}"` : hint;
      throw new QuantityError(`invalid duration ${describe(v)}: ${why}`);
    }
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
  }
  return checkResult(total, v, 'duration');
}
