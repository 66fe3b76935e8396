import { describe, expect, it } from 'vitest';
import { CODECS, compress, decompress, decompressStream } from './codec.js';

const text = Buffer.from(
  JSON.stringify({ resources: Array.from({ length: 2000 }, (_, i) => ({ i, name: `svc-${i}` })) }),
);

async function* pieces(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size);
}

describe('codecs', () => {
  it('codec - every codec round-trips, whole and streamed from pieces', async () => {
    for (const codec of CODECS) {
      const body = await compress(codec, text);
      expect(Buffer.from(await decompress(codec, body, 1 << 20))).toEqual(text);
      expect(
        Buffer.from(await decompressStream(codec, pieces(body, 1000), text.byteLength, 1 << 20)),
      ).toEqual(text);
    }
  });

  it('codec - a streamed payload that decodes to another size than announced is rejected', async () => {
    const body = await compress('br', text);
    await expect(decompressStream('br', pieces(body, 512), text.byteLength - 1, 1 << 20)).rejects.toThrow(
      /more than the announced/,
    );
    await expect(decompressStream('br', pieces(body, 512), text.byteLength + 1, 1 << 20)).rejects.toThrow(
      /not the announced/,
    );
    await expect(decompressStream('br', pieces(body, 512), 2 << 20, 1 << 20)).rejects.toThrow(
      /over the limit/,
    );
    await expect(decompressStream('zstd', pieces(body, 512), text.byteLength, 1 << 20)).rejects.toThrow(
      /unknown codec/,
    );
  });

  it('codec - many large compressions at once all complete, each with its own bytes (past 16 at once they queue)', async () => {
    // 24 inputs of about 1.5 MB: more than the 16 compressions the pool is handed at once, so some wait.
    const inputs = Array.from({ length: 24 }, (_, i) =>
      new TextEncoder().encode(
        JSON.stringify(Array.from({ length: 40_000 }, (_, j) => ({ i, j, v: `value-${(i * j) % 977}` }))),
      ),
    );
    for (const codec of ['br', 'gzip'] as const) {
      const bodies = await Promise.all(inputs.map((raw) => compress(codec, raw, { level: 1 })));
      const back = await Promise.all(bodies.map((b) => decompress(codec, b, 4 << 20)));
      for (const [i, out] of back.entries()) {
        expect(Buffer.from(out).equals(Buffer.from(inputs[i]!)), `${codec} ${i}`).toBe(true);
      }
    }
  });

  it('codec - one compression level serves both codecs: above 9 gzip uses 9', async () => {
    const body = await compress('gzip', text, { level: 11 });
    expect(Buffer.from(await decompress('gzip', body, 1 << 20))).toEqual(text);
  });
});
