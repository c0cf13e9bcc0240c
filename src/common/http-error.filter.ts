import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Response } from 'express';
import { httpStatusOf, ImCode, ImError } from './im-error';

/** Admin REST errors: the HTTP status, plus the protocol `code` and a `msg` naming the problem. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (isBodyParserError(error)) {
      const { status, msg } = bodyErrorOf(error);
      response.status(status).json({ code: status, msg });
      return;
    }
    if (error instanceof ImError) {
      response.status(httpStatusOf(error.code)).json({ code: error.code, msg: error.message });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const body = error.getResponse() as string | { message?: string | string[] };
      const message = typeof body === 'string' ? body : body.message;
      const msg = Array.isArray(message) ? message[0] : (message ?? error.message);
      // keep structured bodies (e.g. the health report) and add code/msg; Nest's own error shape
      // ({statusCode, message, error: "Not Found"}) becomes exactly {code, msg} (PROTOCOL §8)
      if (typeof body !== 'object') return void response.status(status).json({ code: status, msg });
      const { message: _message, statusCode: _statusCode, ...rest } = body as Record<string, unknown>;
      if (typeof rest.error === 'string') delete rest.error;
      response.status(status).json({ code: status, msg, ...rest });
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    response.status(500).json({ code: ImCode.ServerError, msg: 'server error' });
  }
}

/** An error from body-parser (express.json): it carries a `type` such as 'entity.too.large'. */
function isBodyParserError(error: unknown): error is { type: string; status?: number } {
  return typeof error === 'object' && error !== null && typeof (error as { type?: unknown }).type === 'string' && !(error instanceof HttpException);
}

/**
 * Status and msg for a request body body-parser refused (PROTOCOL §8): too large 413, unsupported
 * charset or content encoding 415, anything else about the body 400. Never a 500: the body is input.
 */
export function bodyErrorOf(error: unknown, maxBytes?: number): { status: number; msg: string } {
  const { type, status } = (error ?? {}) as { type?: string; status?: number; limit?: number };
  const limit = maxBytes ?? (error as { limit?: number })?.limit;
  switch (type) {
    case 'entity.too.large':
      return { status: 413, msg: limit ? `request body is larger than ${limit} bytes` : 'request body is too large' };
    case 'entity.parse.failed':
      return { status: 400, msg: 'request body is not valid JSON' };
    case 'charset.unsupported':
      return { status: 415, msg: 'request body charset must be utf-8' };
    case 'encoding.unsupported':
      return { status: 415, msg: 'request body content encoding is not supported (identity, gzip, deflate, br)' };
    case 'entity.verify.failed':
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, msg: 'request body could not be read' };
    default:
      return { status: status && status >= 400 && status < 500 ? status : 400, msg: 'request body could not be read' };
  }
}
