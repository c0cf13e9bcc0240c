import { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppConfig } from '../config/app-config';

/** `PUT /media/{key}`: raw bytes, streamed to storage; the JSON body middleware must leave it unread. */
export function isMediaUpload(req: Request): boolean {
  return req.method === 'PUT' && req.path.startsWith('/media/');
}

/**
 * CORS for /media (a web app on another origin uploads and reads media): ALLOWED_ORIGINS when set,
 * otherwise any origin. No cookies are involved (the upload request carries a bearer token), so
 * credentials are never allowed.
 */
export function mediaCors(config: AppConfig): RequestHandler {
  const allowed = config.ALLOWED_ORIGINS ? new Set(config.ALLOWED_ORIGINS.split(',').map((origin) => origin.trim()).filter(Boolean)) : undefined;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith('/media/')) return next();
    const origin = req.headers.origin;
    if (origin && (!allowed || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Origin', allowed ? origin : '*');
      if (allowed) res.setHeader('Vary', 'Origin');
      res.setHeader('Access-Control-Expose-Headers', 'ETag, Content-Length, Content-Range, Accept-Ranges');
    }
    if (req.method !== 'OPTIONS') return next();
    if (origin && (!allowed || allowed.has(origin))) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, PUT, POST');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Range, If-None-Match');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.status(204).end();
  };
}
