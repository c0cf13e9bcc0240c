import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/**
 * The OpenAPI document of the HTTP API, built from the controllers' decorators (served at /docs and
 * /docs-json; `npm run openapi:write` writes docs/openapi.json, which `@redocly/cli lint` checks in CI).
 * Every route documents every response it answers; errors use the `{code, msg}` ErrorDto
 * (src/openapi/api-errors.ts). The admin token is an opaque bearer token (not a JWT).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('IM server admin API')
    .setDescription(
      'REST API for the app back end: users and their client tokens, groups, chat history, unread conversations; ' +
        'plus the public health and protocol-description routes. Admin routes need `Authorization: Bearer <admin token>` ' +
        '(ADMIN_TOKEN, or the token the server printed on its first start). Every error answers `{code, msg}`. ' +
        'The WebSocket protocol is documented in docs/PROTOCOL.md and /asyncapi.json.',
    )
    .setVersion('1')
    .setLicense('MIT', 'https://opensource.org/license/mit')
    .addServer('/', 'the server this document was fetched from (GET /docs-json); by default http://127.0.0.1:3000')
    // addSecurity, not addBearerAuth: that one adds bearerFormat JWT, and the admin token is no JWT
    .addSecurity('bearer', { type: 'http', scheme: 'bearer', description: 'the admin token: an opaque string (ADMIN_TOKEN), not a JWT' })
    .addSecurity('client', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a client token (POST /admin/users/{app_user_id}/tokens), as on the WebSocket' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // tags in the order a reader needs them, each described
  document.tags = TAGS.filter((tag) => Object.values(document.paths).some((path) => Object.values(path).some((op) => op?.tags?.includes?.(tag.name))));
  return document;
}

const TAGS = [
  { name: 'admin: users', description: 'users, their client tokens, disabling, blacklists' },
  { name: 'admin: groups', description: 'group operations for the app back end (the admin acts as user_id 0)' },
  { name: 'admin: messages', description: 'chat history' },
  { name: 'admin: conversations', description: 'unread conversations (the sync payload)' },
  { name: 'media', description: 'uploads with a client token; reading files and thumbnails (public, unguessable URLs; PROTOCOL §10, docs/media.md)' },
  { name: 'health', description: 'readiness and liveness probes (public)' },
  { name: 'protocol', description: 'the WebSocket protocol description (public)' },
];

/** The document as docs/openapi.json holds it. */
export function openApiJson(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
