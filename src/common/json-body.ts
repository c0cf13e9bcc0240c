import express, { NextFunction, Request, RequestHandler, Response } from 'express';
import { findGenericProblem } from '../contract/generic';
import { bodyErrorOf } from './http-error.filter';

/**
 * Request bodies of the HTTP API (PROTOCOL §8), replacing Nest's default body parsers:
 * - a body that is not `application/json` (when a body is present): 415;
 * - larger than `maxBytes`: 413 (body-parser checks Content-Length first, then counts while reading);
 * - not JSON, or JSON but not an object: 400;
 * - the rules every request obeys (src/contract/generic.ts): no NUL or unpaired surrogate in any string
 *   or key, nesting at most `maxDepth` deep: 400 naming the field.
 * Every refusal is `{code, msg}` with the HTTP status as `code`. A request without a body gets `{}`.
 */
export function jsonBodyMiddleware(options: { maxBytes: number; maxDepth: number; skip?: (req: Request) => boolean }): RequestHandler[] {
  const parse = express.json({ limit: options.maxBytes, strict: true, type: () => true, inflate: true });

  const contentType: RequestHandler = (req, res, next) => {
    if (options.skip?.(req) || !hasBody(req)) return next();
    const media = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (media !== 'application/json') {
      return refuse(res, 415, `request body must be application/json (got ${media ? JSON.stringify(media) : 'no Content-Type'})`);
    }
    next();
  };

  const parseJson: RequestHandler = (req, res, next) => {
    if (options.skip?.(req)) return next();
    parse(req, res, (error?: unknown) => {
      if (error) {
        const { status, msg } = bodyErrorOf(error, options.maxBytes);
        return refuse(res, status, msg);
      }
      next();
    });
  };

  const check: RequestHandler = (req: Request, res: Response, next: NextFunction) => {
    if (options.skip?.(req)) return next();
    if (!hasBody(req)) {
      if (req.body === undefined) req.body = {};
      return next();
    }
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse(res, 400, 'request body must be a JSON object');
    const problem = findGenericProblem(body, options.maxDepth, 'body');
    if (problem) return refuse(res, 400, problem.msg);
    next();
  };

  return [contentType, parseJson, check];
}

/** Same test as body-parser's (type-is): a Transfer-Encoding, or a Content-Length other than 0. */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function refuse(res: Response, status: number, msg: string): void {
  if (res.headersSent) return;
  // an unread body (415, 413 from Content-Length) is discarded by Node once the response ends
  res.status(status).json({ code: status, msg });
}
