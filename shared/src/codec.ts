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

const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export interface CompressOptions {
  /** Brotli quality 0–11 or gzip level 1–9; defaults favour ratio, since line bytes cost more than hub CPU. */
  level?: number;
}

export async function compress(
  codec: Codec,
  data: Uint8Array,
  opts: CompressOptions = {},
): Promise<Uint8Array> {
  switch (codec) {
    case Codec.Brotli:
      return brotliCompress(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: opts.level ?? 9,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
        },
      });
    case Codec.Gzip:
      return gzip(data, { level: opts.level ?? 9 });
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
