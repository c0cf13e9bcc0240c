import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Response } from 'express';
import { httpStatusOf, ImCode, ImError } from './im-error';

/** Admin REST errors: the HTTP status, plus the protocol `code` and a `msg` naming the problem. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof ImError) {
      response.status(httpStatusOf(error.code)).json({ code: error.code, msg: error.message });
      return;
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const body = error.getResponse() as string | { message?: string | string[] };
      const message = typeof body === 'string' ? body : body.message;
      const msg = Array.isArray(message) ? message[0] : (message ?? error.message);
      // keep structured bodies (e.g. the health report) and add code/msg
      response.status(status).json(typeof body === 'object' ? { code: status, msg, ...body, message: undefined } : { code: status, msg });
      return;
    }
    this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    response.status(500).json({ code: ImCode.ServerError, msg: 'server error' });
  }
}
