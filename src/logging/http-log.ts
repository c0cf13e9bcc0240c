import { Logger } from '@nestjs/common';
import { NextFunction, Request, Response } from 'express';
import { MetricsService } from '../metrics/metrics.service';

/**
 * One place for what HTTP requests leave behind: the duration histogram by method, route pattern and
 * status (never the raw path: ids and query strings would make the label set unbounded), a log line
 * per failed request (status ≥ 400) and, at debug level, one per request. Neither the query string
 * nor any header is written (Authorization carries the admin token).
 */
export function httpObserver(metrics: MetricsService, logLevel: string, consolePath: string) {
  const logger = new Logger('Http');
  const debug = ['debug', 'verbose'].includes(logLevel);
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      const route = routeOf(req, consolePath);
      const status = res.statusCode;
      metrics.httpSeconds.observe({ method: req.method, route, status: String(status) }, seconds);
      if (status < 400 && !debug) return;
      const line = { msg: status >= 400 ? 'http request failed' : 'http request', method: req.method, route, status, duration_ms: Math.round(seconds * 100_000) / 100 };
      if (status >= 400) logger.log(line);
      else logger.debug(line);
    });
    next();
  };
}

/** The matched route pattern (/admin/users/:app_user_id), the console, or "unmatched". */
function routeOf(req: Request, consolePath: string): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl ?? ''}${route.path}`;
  if (req.originalUrl === consolePath || req.originalUrl.startsWith(`${consolePath}/`) || req.originalUrl.startsWith(`${consolePath}?`)) return consolePath;
  return 'unmatched';
}
