import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ErrorCode, FedmeshError } from './errors.js';

/** Payload codecs, in the hub's order of preference. Identity exists for debugging. */
export const Codec = { Brotli: 'br', Gzip: 'gzip', Identity: 'identity' } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];
export const CODECS: readonly Codec[] = [Codec.Brotli, Codec.Gzip, Codec.Identity];

export function isCodec(value: string): value is Codec {
  return (CODECS as readonly string[]).includes(value);
}

/** Picks the hub's most preferred codec among those a region accepts. */
export function negotiateCodec(accepted: readonly string[] | undefined): Codec {
  if (!accepted || accepted.length === 0) return Codec.Brotli;
  return CODECS.find((c) => accepted.includes(c)) ?? Codec.Identity;
}

const brotliCompressNow = promisify(zlib.brotliCompress);
const gzipNow = promisify(zlib.gzip);
const INLINE_LIMIT = 16 * 1024;

/**
 * Compressions handed to libuv's thread pool at once. Each holds its encoder state from the
 * call on, whether a pool thread runs it yet or not, and at quality 9 that state is megabytes
 * however small the input: with 64 regions publishing at once during a bulk apply at Alibaba
 * scale, the hub's RSS peaked 700 MiB above its JS heap. The bound is 4 per pool thread, not 1: a
 * slot is only given back when the event loop takes the result, and with one per thread a busy
 * loop left the pool idle and publication rounds waited (measured: 0.8 to 1.8 s rounds where
 * they took 0.3 s). (A counter and a queue, not a dependency.)
 */
const POOL_SLOTS = 4 * Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);
let running = 0;
const waiting: (() => void)[] = [];
async function inPool<T>(fn: () => Promise<T>): Promise<T> {
  while (running >= POOL_SLOTS) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}
const brotliCompress = (data: Uint8Array, opts: zlib.BrotliOptions) =>
  inPool(() => brotliCompressNow(data, opts));
const brotliSync = async (data: Uint8Array, opts: zlib.BrotliOptions) => zlib.brotliCompressSync(data, opts);
const gzipSync = async (data: Uint8Array, opts: zlib.ZlibOptions) => zlib.gzipSync(data, opts);

function brotliWindowBits(size: number): number {
  return Math.min(
    zlib.constants.BROTLI_MAX_WINDOW_BITS,
    Math.max(zlib.constants.BROTLI_MIN_WINDOW_BITS, Math.ceil(Math.log2(size + 1))),
  );
}
const brotliDecompress = promisify(zlib.brotliDecompress);
const gzip = (data: Uint8Array, opts: zlib.ZlibOptions) => inPool(() => gzipNow(data, opts));
const gunzip = promisify(zlib.gunzip);

export interface CompressOptions {
  /**
   * Brotli quality 0–11 or gzip level 1–9 (a higher level is clamped to 9, so one hub-wide
   * setting serves regions on either codec); defaults favour ratio, since line bytes cost more
   * than hub CPU.
   */
  level?: number;
}

export async function compress(
  codec: Codec,
  data: Uint8Array,
  opts: CompressOptions = {},
): Promise<Uint8Array> {
  // Small payloads (nearly every delta) compress in microseconds: doing it inline costs less
  // than the hop to libuv's thread pool and back.
  const inline = data.byteLength <= INLINE_LIMIT;
  switch (codec) {
    case Codec.Brotli:
      return (inline ? brotliSync : brotliCompress)(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: opts.level ?? 9,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
          // A window no larger than the input: most deltas are a few hundred bytes, and the
          // default 4 MiB window costs more to set up than compressing them does.
          [zlib.constants.BROTLI_PARAM_LGWIN]: brotliWindowBits(data.byteLength),
        },
      });
    case Codec.Gzip:
      return (inline ? gzipSync : gzip)(data, { level: Math.min(opts.level ?? 9, 9) });
    case Codec.Identity:
      return data;
  }
}

/**
 * Decompresses with a hard cap on the output size, so a hostile or corrupt payload cannot make
 * an agent allocate without bound.
 */
export async function decompress(
  codec: string,
  data: Uint8Array,
  maxOutputBytes: number,
): Promise<Uint8Array> {
  try {
    switch (codec) {
      case Codec.Brotli:
        return await brotliDecompress(data, { maxOutputLength: maxOutputBytes });
      case Codec.Gzip:
        return await gunzip(data, { maxOutputLength: maxOutputBytes });
      case Codec.Identity:
        if (data.byteLength > maxOutputBytes)
          throw new Error(`payload of ${data.byteLength} bytes is over the limit`);
        return data;
      default:
        throw new Error(`unknown codec "${codec}"`);
    }
  } catch (err) {
    throw new FedmeshError(
      ErrorCode.DecodeFailed,
      `cannot decode ${codec} payload: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Decompresses a payload that arrives in pieces (a snapshot spooled to disk chunk by chunk)
 * without first joining the compressed pieces in memory. `rawSize` is the size the sender
 * announced: the output goes into one buffer of that size, and a payload that decodes to more
 * (or to less) is rejected, so a lying header cannot make the receiver allocate without bound.
 */
export async function decompressStream(
  codec: string,
  source: AsyncIterable<Uint8Array>,
  rawSize: number,
  maxOutputBytes: number,
): Promise<Uint8Array> {
  const fail = (message: string, cause?: unknown): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `cannot decode ${codec} payload: ${message}`, { cause });
  };
  if (rawSize > maxOutputBytes) fail(`announced size of ${rawSize} bytes is over the limit`);
  const out = Buffer.allocUnsafe(rawSize);
  let filled = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (filled + chunk.byteLength > rawSize) {
        done(new Error(`payload decodes to more than the announced ${rawSize} bytes`));
        return;
      }
      chunk.copy(out, filled);
      filled += chunk.byteLength;
      done();
    },
  });
  try {
    switch (codec) {
      case Codec.Brotli:
        await pipeline(source, zlib.createBrotliDecompress(), sink);
        break;
      case Codec.Gzip:
        await pipeline(source, zlib.createGunzip(), sink);
        break;
      case Codec.Identity:
        await pipeline(source, sink);
        break;
      default:
        fail(`unknown codec "${codec}"`);
    }
  } catch (err) {
    if (err instanceof FedmeshError) throw err;
    fail((err as Error).message, err);
  }
  if (filled !== rawSize) fail(`payload decodes to ${filled} bytes, not the announced ${rawSize}`);
  return out;
}
