import type { Logger } from '@fedmesh/shared';

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 5_000;

/**
 * Runs one start-up step until it succeeds. JetStream may be electing a meta leader, one member
 * of the cluster may be down and a stream's leader with it, a quorum may be on its way back: a
 * request then times out or answers "JetStream not available" for a few seconds. A hub that
 * exited on the first such answer (issue 16: 12 exits in 100 faults) left its replica alone and
 * its orchestrator restarting it into the same moment. So it waits instead, live and not ready,
 * saying what it waits for; the back-off doubles from half a second to five.
 */
export async function untilDone<T>(
  what: string,
  log: Logger,
  step: () => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  let backoff = FIRST_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await step();
      if (attempt > 1) log.info({ attempts: attempt }, `${what}: done`);
      return out;
    } catch (err) {
      log.warn(
        { err: (err as Error).message, attempt, retryInMs: backoff },
        `${what}: not possible yet; retrying (the hub is live, not ready)`,
      );
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }
}
