import { CanActivate, ExecutionContext, Injectable, applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { timingSafeEqual } from 'crypto';
import { Request } from 'express';
import { ImError } from '../common/im-error';
import { ApiAdminErrors } from '../openapi/api-errors';
import { AdminToken } from './admin-token';

/** Lets a request through only with `Authorization: Bearer <ADMIN_TOKEN>`. */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(adminToken: AdminToken) {
    this.expected = Buffer.from(adminToken.value);
  }

  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = Buffer.from(match ? match[1].trim() : '');
    if (given.length !== this.expected.length || !timingSafeEqual(given, this.expected)) {
      throw ImError.unauthorized('admin bearer token required');
    }
    return true;
  }
}

/** Marks a controller as part of the admin API: guarded and documented as such (bearer token; 400, 401, 500 with `{code, msg}`). */
export function AdminApi(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(AdminGuard),
    ApiBearerAuth(),
    ApiAdminErrors(),
  );
}
