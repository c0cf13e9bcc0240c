import { Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'fs';
import { join } from 'path';
import { AppConfig } from '../config/app-config';

/** Where `npm run build:console` writes the console (from dist/ and src/ alike: one level up). */
export const CONSOLE_DIR = join(__dirname, '..', '..', 'dist-console');

/**
 * Serves the browser console (built by `npm run build:console`) at CONSOLE_PATH as static files, plus
 * `config.json` telling the page where the WebSocket endpoint is. Mounted before Nest's routes, under
 * a path loadConfig keeps clear of /admin, /docs, /health, /metrics, /media and WS_PATH.
 */
export function mountConsole(app: NestExpressApplication, config: AppConfig, dir = CONSOLE_DIR): void {
  if (!config.CONSOLE_ENABLED) return;
  const base = config.CONSOLE_PATH;
  const built = existsSync(join(dir, 'index.html'));
  if (!built) new Logger('Console').warn(`console not built (no ${join(dir, 'index.html')}): run npm run build:console`);
  // relative asset URLs need the trailing slash
  app.use(base, (req: Request, res: Response, next: NextFunction) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && req.originalUrl.split('?')[0] === base) {
      const query = req.originalUrl.slice(base.length);
      return res.redirect(301, `${base}/${query}`);
    }
    if (req.path === '/config.json' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.setHeader('cache-control', 'no-store');
      return res.json({ ws_path: config.WS_PATH });
    }
    if (!built) return res.status(503).type('text/plain').send('The console is not built: run `npm run build:console`.\n');
    next();
  });
  if (!built) return;
  app.useStaticAssets(dir, {
    prefix: base,
    index: 'index.html',
    fallthrough: true,
    setHeaders: (res, path) => {
      // the page is small and changes with each build; the browser revalidates
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-content-type-options', 'nosniff');
      if (path.endsWith('.html')) {
        res.setHeader('content-security-policy', `default-src 'self'; img-src * data:; connect-src 'self' ws: wss: ${uploadOrigins(config).join(' ')}; style-src 'self'; script-src 'self'; frame-ancestors 'none'`);
        res.setHeader('x-frame-options', 'DENY');
      }
    },
  });
}

/** Where the console's uploads go (PROTOCOL §10): MEDIA_BASE_URL's origin, and the S3 endpoint or bucket when S3 is configured. */
function uploadOrigins(config: AppConfig): string[] {
  const origins = [new URL(config.mediaBaseUrl).origin];
  if (config.S3_BUCKET) origins.push(config.S3_ENDPOINT ? new URL(config.S3_ENDPOINT).origin : `https://${config.S3_BUCKET}.s3.${config.S3_REGION}.amazonaws.com`);
  return origins;
}
