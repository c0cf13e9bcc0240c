import { Logger } from '@nestjs/common';
import { IncomingMessage } from 'http';
import { AppConfig } from '../config/app-config';
import { ClientAuthenticator, tokenOf } from '../users/client-authenticator';
import { AuthenticatedUser } from './connection';
import type { UpgradeRefusal } from '../metrics/metrics.service';

export type UpgradeRequest = IncomingMessage & {
  /** Set when the upgrade carried a valid token. */
  imUser?: AuthenticatedUser;
  /** Set when the upgrade carried no token: the socket must send `auth` first (PROTOCOL §2). */
  imPendingAuth?: boolean;
};
export type UpgradeVerdict = { ok: true } | { ok: false; status: number; message: string; reason: UpgradeRefusal };

const REFUSED = {
  draining: { ok: false, status: 503, message: 'Service Unavailable', reason: 'draining' },
  origin: { ok: false, status: 403, message: 'Forbidden', reason: 'origin' },
  unauthenticated: { ok: false, status: 401, message: 'Unauthorized', reason: 'unauthenticated' },
  tooMany: { ok: false, status: 429, message: 'Too Many Requests', reason: 'too_many' },
  failed: { ok: false, status: 503, message: 'Service Unavailable', reason: 'failed' },
} as const;

/**
 * Decides whether an upgrade becomes a socket (PROTOCOL §2): not while shutting down (503), not from
 * an origin outside ALLOWED_ORIGINS (403), a bad token 401, no token at all opens an unauthenticated
 * socket (in-band `auth`) within a per-address budget (429 beyond it).
 */
export class UpgradeGate {
  private readonly log = new Logger('UpgradeGate');
  private readonly allowedOrigins?: Set<string>;
  /** Unauthenticated sockets (accepted or being accepted) per remote address. */
  private readonly pendingByAddress = new Map<string, number>();
  draining = false;

  constructor(
    private readonly config: AppConfig,
    private readonly authenticator: ClientAuthenticator,
  ) {
    const origins = config.ALLOWED_ORIGINS?.split(',').map((origin) => origin.trim()).filter(Boolean);
    if (origins?.length) this.allowedOrigins = new Set(origins);
  }

  async verify(request: UpgradeRequest): Promise<UpgradeVerdict> {
    if (this.draining) return REFUSED.draining;
    const origin = request.headers.origin;
    if (origin !== undefined && this.allowedOrigins && !this.allowedOrigins.has(origin)) return REFUSED.origin;
    const token = tokenOf(request);
    if (token === null) return this.admitUnauthenticated(request);
    try {
      const user = await this.authenticator.authenticateToken(token);
      if (!user) return REFUSED.unauthenticated;
      request.imUser = user;
      return { ok: true };
    } catch (error) {
      this.log.warn(`upgrade authentication failed: ${(error as Error).message}`);
      return REFUSED.failed;
    }
  }

  /** The unauthenticated socket of `address` authenticated or closed: its slot is free again. */
  release(address: string): void {
    const count = (this.pendingByAddress.get(address) ?? 1) - 1;
    if (count <= 0) this.pendingByAddress.delete(address);
    else this.pendingByAddress.set(address, count);
  }

  private admitUnauthenticated(request: UpgradeRequest): UpgradeVerdict {
    const address = addressOf(request);
    const count = this.pendingByAddress.get(address) ?? 0;
    if (count >= this.config.MAX_UNAUTHENTICATED_PER_ADDRESS) return REFUSED.tooMany;
    this.pendingByAddress.set(address, count + 1);
    request.imPendingAuth = true;
    // the slot is taken now, so a burst of upgrades cannot overshoot; released by the socket's
    // owner (auth or close) or here if the handshake never completes
    let handed = false;
    (request as UpgradeRequest & { imTakeSlot?: () => void }).imTakeSlot = () => (handed = true);
    request.socket.once('close', () => {
      if (!handed) this.release(address);
    });
    return { ok: true };
  }
}

export function addressOf(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

/** Marks the upgrade's unauthenticated slot as owned by the socket (released on auth or close). */
export function takeSlot(request: UpgradeRequest): void {
  (request as UpgradeRequest & { imTakeSlot?: () => void }).imTakeSlot?.();
}
