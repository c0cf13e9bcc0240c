/** Requests per connection (PROTOCOL §7): `ratePerSec` sustained, `burst` at once; a rate of 0 turns it off. */
export class TokenBucket {
  private tokens: number;
  private lastRefill = Date.now();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(now = Date.now()): boolean {
    if (this.ratePerSec <= 0) return true;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.ratePerSec) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
