import { decodeUrgent, silentLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { createNudger } from './nudge.js';

function setup(headSeq: number) {
  let t = 0;
  const sent: Uint8Array[] = [];
  const nudger = createNudger({
    head: () => ({ seq: headSeq, version: 42, hash: 'a'.repeat(64) }),
    publish: (_region, body) => sent.push(body),
    log: silentLogger(),
    now: () => t,
  });
  const report = (streamSeq: number) => nudger.report({ region: 'eu-west', streamSeq, heartbeatSeconds: 1 });
  return { sent, report, advance: (ms: number) => (t += ms) };
}

describe('nudges', () => {
  it('nudge - an agent behind and not moving since its last report gets an empty urgent message announcing the chain version, at most every two heartbeats', async () => {
    const { sent, report, advance } = setup(100);
    await report(90);
    expect(sent).toHaveLength(0); // one report says nothing about moving
    advance(1_000);
    await report(95);
    expect(sent).toHaveLength(0); // behind, but moving
    advance(1_000);
    await report(95);
    expect(sent).toHaveLength(1);
    expect(await decodeUrgent('eu-west', sent[0]!)).toEqual({ fromVersion: 42, toVersion: 42, entries: {} });
    advance(1_000);
    await report(95);
    expect(sent).toHaveLength(1); // not again within two heartbeats
    advance(1_000);
    await report(95);
    expect(sent).toHaveLength(2);
  });

  it('nudge - an agent at the head is never nudged, however long it stays', async () => {
    const { sent, report, advance } = setup(100);
    for (let i = 0; i < 5; i++) {
      await report(100);
      advance(5_000);
    }
    expect(sent).toHaveLength(0);
  });
});
