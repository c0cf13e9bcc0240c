/** The PROTOCOL codes an `ImError` (or a reply) carries (PROTOCOL §3). */
export const ImCode = {
  /** Success. */
  Ok: 200,
  /** A failure on the server's side; retry with the same nonce. */
  ServerError: 0,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  TooManyRequests: 429,
  /** The recipient has blacklisted the sender; nothing was stored. */
  Blacklisted: 811,
  /** Rejected by the app's moderation (the before-send webhook); nothing was stored; `msg` is the app's reason. */
  Moderation: 812,
  /** This nonce was already sent: the reply carries the original message. */
  Duplicate: 831,
} as const;

export type ImCodeValue = (typeof ImCode)[keyof typeof ImCode];

/** The app's reason when a send was rejected by moderation (812), else undefined. */
export function moderationReason(error: unknown): string | undefined {
  const e = error as { code?: unknown; msg?: unknown } | null;
  return e && e.code === ImCode.Moderation && typeof e.msg === 'string' ? e.msg : undefined;
}
