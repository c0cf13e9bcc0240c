import { ConfigError, loadConfig } from '../src/config/app-config';

describe('configuration', () => {
  it('starts with nothing set: every default of PROTOCOL §9', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      RATE_LIMIT_PER_SEC: 50,
      RATE_LIMIT_BURST: 100,
      MAX_FRAME_BYTES: 65536,
      THUMB_URL_TEMPLATE: '{url}?imageView2/2/w/200/h/200',
      TOKEN_TTL_SECONDS: 7 * 24 * 3600,
      MAX_GROUP_MEMBERS: 2000,
      WS_PATH: '/',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.mediaBaseUrl).toBe('http://localhost:3000/media');
  });

  it('reads numbers and URLs from the environment', () => {
    const config = loadConfig({ PORT: '8080', RATE_LIMIT_PER_SEC: '0', MEDIA_BASE_URL: 'https://cdn.example.com/files/', DATABASE_URL: 'postgresql://u@db:5432/im' });
    expect(config.PORT).toBe(8080);
    expect(config.RATE_LIMIT_PER_SEC).toBe(0);
    expect(config.mediaBaseUrl).toBe('https://cdn.example.com/files');
    expect(config.DATABASE_URL).toBe('postgresql://u@db:5432/im');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'localhost:6379'],
    ['RATE_LIMIT_BURST', '-1'],
    ['MAX_FRAME_BYTES', '12'],
    ['MEDIA_BASE_URL', 'ftp://x'],
    ['THUMB_URL_TEMPLATE', 'no placeholder'],
    ['ADMIN_TOKEN', 'short'],
  ])('refuses %s=%s with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).not.toContain('\n');
  });

  it('media: local storage in ./data/media up to 100 MiB by default; S3 when S3_BUCKET is set, its key pair both or neither', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ MEDIA_DIR: './data/media', MEDIA_MAX_BYTES: 104857600, S3_REGION: 'us-east-1' });
    expect(config.S3_BUCKET).toBeUndefined();
    const s3 = loadConfig({ S3_BUCKET: 'im-media', S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', MEDIA_MAX_BYTES: '1048576' });
    expect(s3).toMatchObject({ S3_BUCKET: 'im-media', S3_ENDPOINT: 'http://minio:9000', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', MEDIA_MAX_BYTES: 1048576 });
    expect(() => loadConfig({ S3_BUCKET: 'Bad_Bucket' })).toThrow(/^Invalid configuration: S3_BUCKET="Bad_Bucket": S3_BUCKET must be a bucket name/);
    expect(() => loadConfig({ S3_ENDPOINT: 'minio:9000' })).toThrow(/S3_ENDPOINT/);
    expect(() => loadConfig({ MEDIA_MAX_BYTES: '0' })).toThrow(/MEDIA_MAX_BYTES/);
    expect(() => loadConfig({ S3_BUCKET: 'b-1', S3_ACCESS_KEY_ID: 'k' })).toThrow('Invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  });

  it('presence refresh and TTL: 10 s and 30 s by default; the TTL must exceed the refresh period', () => {
    expect(loadConfig({})).toMatchObject({ PRESENCE_REFRESH_MS: 10_000, PRESENCE_TTL_MS: 30_000 });
    expect(loadConfig({ PRESENCE_REFRESH_MS: '500', PRESENCE_TTL_MS: '2000' })).toMatchObject({ PRESENCE_REFRESH_MS: 500, PRESENCE_TTL_MS: 2000 });
    expect(() => loadConfig({ PRESENCE_TTL_MS: '10000' })).toThrow(/^Invalid configuration: PRESENCE_TTL_MS="10000": PRESENCE_TTL_MS must be greater than PRESENCE_REFRESH_MS$/);
    expect(() => loadConfig({ PRESENCE_REFRESH_MS: 'soon' })).toThrow(/PRESENCE_REFRESH_MS/);
  });
});

describe('configuration of the browser console', () => {
  it('is on at /console by default', () => {
    const config = loadConfig({});
    expect(config.CONSOLE_ENABLED).toBe(true);
    expect(config.CONSOLE_PATH).toBe('/console');
  });

  it.each([
    ['false', false],
    ['0', false],
    ['true', true],
    ['1', true],
  ])('reads CONSOLE_ENABLED=%s', (value, expected) => {
    expect(loadConfig({ CONSOLE_ENABLED: value }).CONSOLE_ENABLED).toBe(expected);
  });

  it('takes another path', () => {
    expect(loadConfig({ CONSOLE_PATH: '/ops/im-console' }).CONSOLE_PATH).toBe('/ops/im-console');
  });

  it.each([
    ['CONSOLE_ENABLED', 'maybe'],
    ['CONSOLE_PATH', 'console'],
    ['CONSOLE_PATH', '/'],
    ['CONSOLE_PATH', '/console/'],
    ['CONSOLE_PATH', '/a b'],
    ['CONSOLE_PATH', '/admin'],
    ['CONSOLE_PATH', '/docs'],
    ['CONSOLE_PATH', '/health/console'],
    ['CONSOLE_PATH', '/metrics'],
    ['CONSOLE_PATH', '/media'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it('refuses a CONSOLE_PATH that holds the WebSocket endpoint, unless the console is off', () => {
    expect(() => loadConfig({ WS_PATH: '/console', CONSOLE_PATH: '/console' })).toThrow(/CONSOLE_PATH.*WS_PATH/);
    expect(() => loadConfig({ WS_PATH: '/console/ws', CONSOLE_PATH: '/console' })).toThrow(ConfigError);
    expect(loadConfig({ WS_PATH: '/ws', CONSOLE_PATH: '/console' }).WS_PATH).toBe('/ws');
    expect(loadConfig({ WS_PATH: '/console', CONSOLE_ENABLED: 'false' }).CONSOLE_ENABLED).toBe(false);
  });
});
