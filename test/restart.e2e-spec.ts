import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { startTestServer } from './support/server';
import { WsClient } from './support/ws-client';

describe('restart on the same database', () => {
  it('keeps users, and tokens issued before the restart stay valid', async () => {
    // on the embedded database both runs share one data directory
    const dataDir = mkdtempSync(join(tmpdir(), 'im-restart-'));
    const env: Record<string, string> = process.env.DATABASE_URL ? {} : { DATA_DIR: dataDir };
    const first = await startTestServer(env);
    await first.reset();
    const created = await first.admin.putUser('nora', 'Nora');
    const { token } = await first.admin.token('nora');
    await first.server.close();

    const second = await startTestServer(env);
    try {
      expect((await second.admin.call('GET', '/admin/users/nora')).body).toEqual(created);
      const client = await WsClient.open(second.port, token);
      expect((await client.request('ping')).code).toBe(200);
      client.close();
    } finally {
      await second.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
