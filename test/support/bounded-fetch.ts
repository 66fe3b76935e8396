/**
 * Vitest set-up file: every `fetch` a test makes without a signal of its own gets one that aborts
 * after FETCH_TIMEOUT_MS. Node's fetch otherwise waits up to five minutes for response headers, so
 * a server that accepts a connection and never answers would hang a test past every bound and
 * hide which call it was; aborted, the call fails with an error naming the URL.
 */
const FETCH_TIMEOUT_MS = 30_000;

const original = globalThis.fetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
  if (init?.signal) return original(input, init);
  try {
    return await original(input, { ...init, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      const url = input instanceof Request ? input.url : String(input);
      throw new Error(`no answer from ${init?.method ?? 'GET'} ${url} within ${FETCH_TIMEOUT_MS / 1000} s`, {
        cause: err,
      });
    }
    throw err;
  }
};
