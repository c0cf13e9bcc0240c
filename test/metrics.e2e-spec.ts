import { startTestServer, TestServer } from './support/server';
import { WsClient } from './support/ws-client';

/** `# TYPE name type` of every metric in a scrape. */
function typesOf(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1], match[2]]));
}

/** The value of one sample line, e.g. `im_requests_total{action="chat",code="200"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * Issue 11: after a scripted session /metrics exposes the series with the right Prometheus types and
 * bounded labels; METRICS_PORT moves /metrics off the public port.
 */
describe('metrics: the series of a scripted session, with their types', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_SEC: '1', RATE_LIMIT_BURST: '6', METRICS_PORT: '0' });
  });
  afterAll(() => server.close());

  it('requests, pushes, 429s, connections, refused upgrades, database and HTTP timings', async () => {
    const alice = await server.connect('m-alice');
    const bob = await server.connect('m-bob');
    expect((await alice.request('chat', { type: 1, content: 'hi', app_user_ids: 'm-bob' })).code).toBe(200);
    expect((await alice.request('chat', { type: 1, content: 'x', app_user_ids: 'm-nobody' })).code).toBe(404);
    expect((await alice.request('nosuchaction', {})).code).toBe(400);
    // past the burst: 429
    const replies = await Promise.all(Array.from({ length: 8 }, () => alice.request('ping', {})));
    expect(replies.some((reply) => reply.code === 429)).toBe(true);
    expect(await WsClient.refusedStatus(server.port, 'forged-token')).toBe(401);
    bob.socket.close(1000);
    await bob.closed;
    await server.admin.call('GET', '/admin/users/m-alice');

    // not on the public port any more
    expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(404);
    const response = await fetch(`http://127.0.0.1:${server.server.metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const types = typesOf(text);
    expect(Object.fromEntries([...types].filter(([name]) => name.startsWith('im_')))).toEqual({
      im_sync_build_seconds: 'histogram',
      im_messages_stored_total: 'counter',
      im_redis_publish_failures_total: 'counter',
      im_webhook_calls_total: 'counter',
      im_webhook_dropped_total: 'counter',
      im_before_send_seconds: 'histogram',
      im_requests_total: 'counter',
      im_request_duration_seconds: 'histogram',
      im_rate_limited_total: 'counter',
      im_pushes_total: 'counter',
      im_connections_opened_total: 'counter',
      im_connections_closed_total: 'counter',
      im_ws_upgrades_refused_total: 'counter',
      im_http_request_duration_seconds: 'histogram',
      im_db_query_duration_seconds: 'histogram',
      im_db_transaction_duration_seconds: 'histogram',
      im_write_batch_size: 'histogram',
      im_connections_open: 'gauge',
      im_db_pool_connections: 'gauge',
      im_system_messages_pending: 'gauge',
      im_slow_consumer_drops_total: 'counter',
      im_write_batches_total: 'counter',
      im_write_batched_statements_total: 'counter',
    });
    expect(sample(text, 'im_requests_total{action="chat",code="200"}')).toBe(1);
    expect(sample(text, 'im_requests_total{action="chat",code="404"}')).toBe(1);
    expect(sample(text, 'im_requests_total{action="invalid",code="400"}')).toBe(1);
    expect(sample(text, 'im_request_duration_seconds_count{action="chat"}')).toBe(2);
    expect(sample(text, 'im_rate_limited_total')).toBeGreaterThan(0);
    expect(sample(text, 'im_pushes_total{outcome="written"}')).toBeGreaterThan(0);
    expect(sample(text, 'im_connections_opened_total')).toBe(2);
    expect(sample(text, 'im_connections_closed_total{code="1000"}')).toBe(1);
    expect(sample(text, 'im_connections_open')).toBe(1);
    expect(sample(text, 'im_ws_upgrades_refused_total{reason="unauthenticated"}')).toBe(1);
    expect(sample(text, 'im_db_query_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'im_db_pool_connections{state="waiting"}')).toBe(0);
    expect(sample(text, 'im_http_request_duration_seconds_count{method="GET",route="/admin/users/:app_user_id",status="200"}')).toBe(1);
    // the path's own value (a user id) never becomes a label
    expect(text).not.toContain('m-alice');
    alice.close();
  });
});
