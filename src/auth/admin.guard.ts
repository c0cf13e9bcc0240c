import { CanActivate, ExecutionContext, Injectable, applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { Request } from 'express';
import { ImError } from '../common/im-error';
import { AdminToken } from './admin-token';

/** Lets a request through only with `Authorization: Bearer <admin token>` (ADMIN_TOKEN or the generated one). */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(private readonly adminToken: AdminToken) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !(await this.adminToken.matches(match[1].trim()))) {
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
