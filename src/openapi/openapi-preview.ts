import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { AppConfig } from '../config/app-config';
import { buildOpenApiDocument, openApiJson } from './openapi';

/**
 * The OpenAPI document as docs/openapi.json holds it, generated without a running server: the
 * application is built in Nest's preview mode (modules and controllers are scanned, no provider is
 * instantiated, so no database or Redis is touched).
 */
export async function openApiDocumentJson(): Promise<string> {
  const config = new AppConfig();
  const app = await NestFactory.create(AppModule.forRoot(config, 'postgresql://preview.invalid/none'), { preview: true, logger: false, abortOnError: false });
  try {
    return openApiJson(buildOpenApiDocument(app));
  } finally {
    await app.close().catch((error) => new Logger('OpenAPI').warn(String(error)));
  }
}
