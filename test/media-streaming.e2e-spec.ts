import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { request as httpRequest } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import { ChildServer } from './support/child-server';
import { requestUpload } from './support/media';

const SIZE = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

/** Peak resident memory of a process so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
}

/** PUTs `SIZE` bytes made on the fly (this process never holds them either), honouring backpressure. */
function streamUpload(url: string, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers: { 'content-type': contentType, 'content-length': SIZE } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    let sent = 0;
    const write = () => {
      while (sent < SIZE) {
        sent += CHUNK.length;
        const more = req.write(CHUNK);
        if (sent >= SIZE) return void req.end();
        if (!more) return void req.once('drain', write);
      }
    };
    write();
  });
}

/**
 * A 100 MB upload streams to disk: the server (its own process, so its memory is its own) stores it
 * whole while its peak resident memory grows by less than the file. Some growth there is: the
 * socket's read buffers live outside V8's heap and are freed lazily, up to V8's external-memory soft
 * limit (64 MB), so the growth is bounded whatever the file's size (Node 20: ~26 MB, Node 24: ~61 MB
 * for 100 MB and ~63 MB for 250 MB). A server holding the body would grow by 100 MB or more.
 */
describe('media: large uploads stream', () => {
  let server: ChildServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'im-media-big-'));
    server = await ChildServer.start({
      MEDIA_DIR: join(dir, 'media'),
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATA_DIR: join(dir, 'db') }),
    });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a 100 MB file with the server\'s peak RSS growing by less than 80 MB (bounded, whatever the size)', async () => {
    const { token } = await server.admin.ensureUserToken('big-uploader');
    const base = `http://127.0.0.1:${server.port}`;
    // warm up the upload path (first-use allocations are not what is measured)
    const small = (await requestUpload(base, token, { content_type: 'video/mp4', size: 3 })).body;
    expect((await fetch(small.upload_url, { method: 'PUT', headers: small.headers, body: 'abc' })).status).toBe(200);

    const ticket = (await requestUpload(base, token, { content_type: 'video/mp4', size: SIZE })).body;
    const before = peakRss(server.process.pid!);
    const put = await streamUpload(ticket.upload_url, 'video/mp4');
    const growth = peakRss(server.process.pid!) - before;
    expect(put.status).toBe(200);
    expect(JSON.parse(put.body)).toMatchObject({ size: SIZE, key: ticket.key });
    expect(statSync(join(dir, 'media', 'objects', ticket.key.slice(0, 2), ticket.key)).size).toBe(SIZE);
    process.stdout.write(`media streaming: 100 MB upload, server peak RSS before ${(before / 2 ** 20).toFixed(1)} MB, growth ${(growth / 2 ** 20).toFixed(1)} MB\n`);
    expect(growth).toBeLessThan(80 * 1024 * 1024);

    // and it is read back as a stream too, with a range at its end
    const tail = await fetch(ticket.url.replace('localhost', '127.0.0.1'), { headers: { range: `bytes=${SIZE - 4}-` } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(Buffer.alloc(4, 0x5a));
  }, 120_000);
});
