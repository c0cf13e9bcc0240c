import { CanActivate, ExecutionContext, Injectable, applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { timingSafeEqual } from 'crypto';
import { Request } from 'express';
import { ImError } from '../common/im-error';
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

/** Marks a controller as part of the admin API: guarded and documented as such. */
export function AdminApi(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(AdminGuard),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'missing or wrong admin bearer token' }),
  );
}
