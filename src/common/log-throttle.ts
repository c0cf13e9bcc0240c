/**
 * Lets one log line per key through every `periodMs` and counts the ones held back, so a fault that
 * fails thousands of operations leaves a few lines with counts instead of thousands of lines.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { until: number; held: number }>();

  constructor(private readonly periodMs: number) {}

  /** undefined: hold this line back. A number: log it; that many were held back since the last one. */
  pass(key: string, now = Date.now()): number | undefined {
    const entry = this.seen.get(key);
    if (entry && now < entry.until) {
      entry.held++;
      return undefined;
    }
    this.seen.set(key, { until: now + this.periodMs, held: 0 });
    return entry?.held ?? 0;
  }
}
