import { Writable } from 'stream';
import { installLogger, scrubSecrets } from '../src/logging/logger';

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

describe('logger: formats and masking', () => {
  it('masks URL passwords, token= parameters and bearer tokens in message texts', () => {
    expect(scrubSecrets('postgresql://postgres:s3cr3t@127.0.0.1:5432/postgres')).toBe('postgresql://postgres:[redacted]@127.0.0.1:5432/postgres');
    expect(scrubSecrets('redis://:pw@redis:6379')).toBe('redis://:[redacted]@redis:6379');
    expect(scrubSecrets('GET /?token=eyJ.abc.def&x=1')).toBe('GET /?token=[redacted]&x=1');
    expect(scrubSecrets('Authorization: Bearer abc123')).toBe('Authorization: Bearer [redacted]');
    expect(scrubSecrets('listening on port 3000')).toBe('listening on port 3000');
  });

  it('json: one object per line with level name, context and fields; secret fields redacted', () => {
    const { stream, lines } = capture();
    const logger = installLogger('log', 'json', stream);
    logger.log({ msg: 'connection opened', user_id: 7, token: 'tok-123' }, 'ImWsAdapter');
    logger.debug('not at log level', 'X');
    logger.error('failed', 'Error: boom\n    at here', 'Filter');
    expect(lines).toHaveLength(2);
    const [opened, failed] = lines.map((line) => JSON.parse(line));
    expect(opened).toMatchObject({ level: 'info', context: 'ImWsAdapter', msg: 'connection opened', user_id: 7, token: '[redacted]' });
    expect(failed).toMatchObject({ level: 'error', context: 'Filter', msg: 'failed', stack: expect.stringContaining('Error: boom') });
  });

  it('pretty: one readable line per event, "listening on port N" findable as in json', () => {
    const { stream, lines } = capture();
    const logger = installLogger('log', 'pretty', stream);
    logger.log('listening on port 3000 (WebSocket path /)', 'Server');
    logger.warn('unreachable', 'Redis');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/INFO.*\[Server\] listening on port 3000/);
    expect(lines[1]).toMatch(/WARN.*\[Redis\] unreachable/);
    expect(lines.join('\n')).not.toMatch(/\u001b\[/); // no colour codes off a terminal
  });
});
