import { CanActivate, ExecutionContext, Injectable, applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { Request } from 'express';
import { ImError } from '../common/im-error';
import { ApiAdminErrors } from '../openapi/api-errors';
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

/** Marks a controller as part of the admin API: guarded and documented as such (bearer token; 400, 401, 500 with `{code, msg}`). */
export function AdminApi(): ClassDecorator & MethodDecorator {
  return applyDecorators(
    UseGuards(AdminGuard),
    ApiBearerAuth(),
    ApiAdminErrors(),
  );
}
