import { createHmac, timingSafeEqual } from 'crypto';

/** `sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">` (PROTOCOL §11). */
export function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** True when `header` is the signature of this timestamp and body (constant-time comparison). */
export function verifySignature(secret: string, timestamp: string | number, body: string, header: string): boolean {
  const expected = Buffer.from(signature(secret, Number(timestamp), body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The headers of one webhook call; the timestamp is the moment of this attempt. */
export function webhookHeaders(secret: string, event: string, eventId: string, body: string, now = Date.now()): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-IM-Event': event,
    'X-IM-Event-Id': eventId,
    'X-IM-Timestamp': String(now),
    'X-IM-Signature': signature(secret, now, body),
  };
}

export interface PostResult {
  ok: boolean;
  status?: number;
  /** The response text (2xx only; for before-send), or the failure. */
  text?: string;
  error?: string;
}

/** One signed POST; never throws (a refused connection, a timeout and a non-2xx are failures). */
export async function postSigned(url: string, secret: string, event: string, eventId: string, body: string, timeoutMs: number, stop?: AbortSignal): Promise<PostResult> {
  try {
    const signal = stop ? AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const response = await fetch(url, { method: 'POST', headers: webhookHeaders(secret, event, eventId, body), body, signal, redirect: 'manual' });
    const text = await response.text();
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status, text };
    return { ok: false, status: response.status, error: `HTTP ${response.status}` };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { ok: false, error: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message) };
  }
}
