/**
 * The line by churn rate: the recorded changes of a model run, grouped into the hub's publication
 * rounds at a rate (`rounds.ts`), encoded and framed like any other delta, against the
 * field-level lower bound of the same net changes.
 */
import { encodeDelta, opsFromChanges, type RegionChanges } from '@fedmesh/hub';
import { canonicalJson, compress, KEY_ID_BYTES, SIGNATURE_BYTES } from '@fedmesh/shared';
import { type EncodeConfig, encodeOpts, measure } from './pipeline.js';
import { mergeRegionChanges, publicationRounds } from './rounds.js';
import { sum } from './stats.js';

/** The line at one rate of changes: what the hub's rounds put on it, against the bound of the same rounds. */
export interface LineAtRate {
  rate: number;
  rounds: number;
  messages: number;
  /** One change reaching one region. */
  regionChanges: number;
  payloadBytes: number;
  /** Payload and all framing but TCP/IP, unsigned (the hub's default). */
  wireBytes: number;
  /** Field-level bound of each region's net change per round. */
  boundBytes: number;
  lineOverBound: number;
  payloadOverBound: number;
  framingPerMessage: number;
  framingPerRegionChange: number;
  /** The same with the hub signing (`--signing-key`): 72 bytes more per message. */
  framingPerRegionChangeSigned: number;
  regionChangesPerMessage: number;
}

/**
 * The field-level lower bound of one region's change: the minimal [path, value] pairs (a removal
 * as [path]), lists matched by identity (the ops `opsFromChanges` makes, without their op names),
 * as canonical JSON, brotli at quality 11. No envelope, no headers, no framing: what any encoding
 * of the same change would have to say.
 */
export async function lowerBoundBytes(changes: RegionChanges, _enc?: EncodeConfig): Promise<number> {
  const pairs = opsFromChanges(changes).map((op) =>
    op.op === 'remove'
      ? [op.path]
      : op.op === 'move'
        ? [op.path, { from: op.from }]
        : [op.path, (op as { value: unknown }).value],
  );
  const raw = new TextEncoder().encode(canonicalJson(pairs));
  return (await compress('br', raw, { level: 11 })).byteLength;
}

const ZERO_HASH = '0'.repeat(64);

/**
 * The line with the recorded changes arriving at `rate`: each round of the hub's schedule becomes
 * one delta per region it changed (the net change of its changes), measured like any other, and
 * the bound is taken over the same net change, so merging cannot beat a bound it did not pay for.
 */
export async function lineAtRate(
  rate: number,
  stepChanges: readonly Map<string, RegionChanges>[],
  firstVersion: number,
  cfg: { seed: number; encode: EncodeConfig },
): Promise<LineAtRate> {
  let messages = 0;
  let payload = 0;
  let wire = 0;
  let bound = 0;
  const rounds = publicationRounds(stepChanges.length, rate, cfg.seed + 11);
  for (const round of rounds) {
    const byRegion = new Map<string, RegionChanges[]>();
    for (const i of round) {
      for (const [region, changes] of stepChanges[i]!) {
        const list = byRegion.get(region);
        if (list) list.push(changes);
        else byRegion.set(region, [changes]);
      }
    }
    const from = firstVersion + round[0]!;
    const to = firstVersion + round[round.length - 1]! + 1;
    for (const [region, list] of byRegion) {
      const merged = mergeRegionChanges(list);
      if (merged.size === 0) continue;
      const msgs = await encodeDelta(
        region,
        from,
        to,
        ZERO_HASH,
        opsFromChanges(merged),
        encodeOpts(cfg.encode),
      );
      const m = measure(msgs);
      messages += m.messages;
      payload += m.bytes;
      wire += m.wireBytes;
      bound += await lowerBoundBytes(merged, cfg.encode);
    }
  }
  const regionChanges = sum(stepChanges.map((s) => s.size));
  return lineFigures(rate, rounds.length, messages, regionChanges, payload, wire, bound);
}

export function lineFigures(
  rate: number,
  rounds: number,
  messages: number,
  regionChanges: number,
  payloadBytes: number,
  wireBytes: number,
  boundBytes: number,
): LineAtRate {
  const framing = wireBytes - payloadBytes;
  const perChange = (x: number) => x / Math.max(1, regionChanges);
  return {
    rate,
    rounds,
    messages,
    regionChanges,
    payloadBytes,
    wireBytes,
    boundBytes,
    lineOverBound: wireBytes / Math.max(1, boundBytes),
    payloadOverBound: payloadBytes / Math.max(1, boundBytes),
    framingPerMessage: framing / Math.max(1, messages),
    framingPerRegionChange: perChange(framing),
    framingPerRegionChangeSigned: perChange(framing + messages * (KEY_ID_BYTES + SIGNATURE_BYTES)),
    regionChangesPerMessage: regionChanges / Math.max(1, messages),
  };
}
