import { CoalescingLoader, LINGER_MS } from '../src/database/coalescing-loader';

/** A load function that records each statement's keys and answers when told to. */
function recorder() {
  const calls: number[][] = [];
  const pending: Array<() => void> = [];
  let fail: Error | undefined;
  const load = (keys: number[]) =>
    new Promise<Map<number, string>>((resolve, reject) => {
      calls.push([...keys]);
      pending.push(() => (fail ? reject(fail) : resolve(new Map(keys.filter((key) => key > 0).map((key) => [key, `v${key}`])))));
    });
  const answerAll = async () => {
    while (pending.length > 0) {
      pending.shift()!();
      // the next statement may linger for more of its wave
      await new Promise((resolve) => setTimeout(resolve, LINGER_MS * 3));
    }
  };
  return { calls, load, answerAll, failWith: (error: Error) => (fail = error) };
}

describe('CoalescingLoader', () => {
  it('serves the requests of one event-loop turn with one statement, each caller its own value (unknown keys undefined)', async () => {
    const r = recorder();
    const loader = new CoalescingLoader(r.load);
    const results = Promise.all([loader.get(1), loader.get(2), loader.get(-3), loader.get(1)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).toEqual([[1, 2, -3]]);
    await r.answerAll();
    expect(await results).toEqual(['v1', 'v2', undefined, 'v1']);
  });

  it('queues what comes while a statement runs, and sends it as the next one', async () => {
    const r = recorder();
    const loader = new CoalescingLoader(r.load);
    const first = loader.get(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [loader.get(2), loader.get(3)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.calls).toEqual([[1]]); // one in flight: the others wait for it
    await r.answerAll();
    expect(r.calls).toEqual([[1], [2, 3]]);
    expect(await first).toBe('v1');
    expect(await Promise.all(later)).toEqual(['v2', 'v3']);
  });

  it('exclusive: two requests for one key never share a statement', async () => {
    const r = recorder();
    const loader = new CoalescingLoader(r.load, { exclusive: true });
    const results = Promise.all([loader.get(7), loader.get(8), loader.get(7)]);
    await new Promise((resolve) => setImmediate(resolve));
    await r.answerAll();
    expect(r.calls).toEqual([[7, 8], [7]]);
    expect(await results).toEqual(['v7', 'v8', 'v7']);
  });

  it('a failed statement fails each of its requests, and the next statement runs', async () => {
    const r = recorder();
    const loader = new CoalescingLoader(r.load);
    r.failWith(new Error('connection lost'));
    const failed = [loader.get(1), loader.get(2)].map((promise) => promise.catch((error: Error) => error.message));
    await new Promise((resolve) => setImmediate(resolve));
    await r.answerAll();
    expect(await Promise.all(failed)).toEqual(['connection lost', 'connection lost']);
  });

  it('splits a wave larger than maxBatch', async () => {
    const r = recorder();
    const loader = new CoalescingLoader(r.load, { maxBatch: 2 });
    const results = Promise.all([1, 2, 3, 4, 5].map((key) => loader.get(key)));
    await new Promise((resolve) => setImmediate(resolve));
    await r.answerAll();
    expect(r.calls).toEqual([[1, 2], [3, 4], [5]]);
    expect(await results).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
  });
});
