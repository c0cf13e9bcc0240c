import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ImError } from './im-error';

/** "extra.width must be a positive integer": the first failing constraint, with its dotted path. */
export function firstValidationMessage(errors: ValidationError[], parent = ''): string {
  for (const error of errors) {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const constraint = error.constraints && Object.values(error.constraints)[0];
    if (constraint) {
      return constraint.startsWith(error.property) ? path + constraint.slice(error.property.length) : `${path}: ${constraint}`;
    }
    if (error.children?.length) return firstValidationMessage(error.children, path);
  }
  return 'invalid parameters';
}

/**
 * Validation of admin REST bodies and queries (class-validator DTOs, which also feed OpenAPI): plain
 * objects stay as sent, the first bad field is named. WebSocket requests are validated by their JSON
 * Schemas in src/contract instead (the adapter, before any handler).
 */
export function imValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    transform: false,
    forbidUnknownValues: false,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ImError.badRequest(firstValidationMessage(errors)),
  });
}
