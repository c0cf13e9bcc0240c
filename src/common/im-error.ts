/** Result codes of the wire protocol (PROTOCOL §3). */
export enum ImCode {
  Ok = 200,
  ServerError = 0,
  BadRequest = 400,
  Unauthorized = 401,
  Forbidden = 403,
  NotFound = 404,
  TooManyRequests = 429,
  Blacklisted = 811,
  /** Rejected by the app's before-send webhook (PROTOCOL §11); `msg` is the app's reason. */
  Moderation = 812,
  Duplicate = 831,
}

/**
 * The one error services throw. Each transport maps it once: the WebSocket filter turns it
 * into a reply frame, the HTTP filter into a status code and JSON body.
 */
export class ImError extends Error {
  constructor(
    readonly code: ImCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImError';
  }

  static badRequest(msg: string): ImError {
    return new ImError(ImCode.BadRequest, msg);
  }
  static unauthorized(msg = 'unauthorized'): ImError {
    return new ImError(ImCode.Unauthorized, msg);
  }
  static forbidden(msg: string): ImError {
    return new ImError(ImCode.Forbidden, msg);
  }
  static notFound(msg: string): ImError {
    return new ImError(ImCode.NotFound, msg);
  }
}

/** HTTP status used for each protocol code on the admin REST API. */
export function httpStatusOf(code: ImCode): number {
  switch (code) {
    case ImCode.BadRequest:
    case ImCode.Unauthorized:
    case ImCode.Forbidden:
    case ImCode.NotFound:
    case ImCode.TooManyRequests:
      return code;
    case ImCode.Blacklisted:
    case ImCode.Duplicate:
      return 409;
    default:
      return 500;
  }
}
