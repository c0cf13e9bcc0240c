import { loadConfig } from '../src/config/app-config';
import { TypingThrottle } from '../src/messaging/typing-throttle';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The node-local part of the typing throttle: one take per key per window, memory bounded by one window. */
describe('TypingThrottle (no Redis)', () => {
  it('lets a key through once per window and forgets lapsed keys as new ones come', async () => {
    const throttle = new TypingThrottle(loadConfig({ TYPING_INTERVAL_MS: '1500' }));
    expect(await throttle.take('1:u2')).toBe(true);
    expect(await throttle.take('1:u2')).toBe(false);
    expect(await throttle.take('1:g3')).toBe(true);
    for (let i = 0; i < 1000; i++) await throttle.take(`k${i}`);
    expect(throttle.size).toBe(1002);
    await sleep(1600);
    // every earlier entry lapsed: the next call sweeps them all
    expect(await throttle.take('1:u2')).toBe(true);
    expect(throttle.size).toBe(1);
  });

  it('TYPING_INTERVAL_MS=0 lets everything through and keeps nothing', async () => {
    const throttle = new TypingThrottle(loadConfig({ TYPING_INTERVAL_MS: '0' }));
    expect(await throttle.take('1:u2')).toBe(true);
    expect(await throttle.take('1:u2')).toBe(true);
    expect(throttle.size).toBe(0);
  });
});
