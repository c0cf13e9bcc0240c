import { Request, Response } from 'express';

/** A year: media never changes under its key, so caches may keep it as long as they like. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Uploaded bytes are untrusted: no script of an uploaded SVG or HTML may run on this origin. */
const CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox";

export interface MediaHeaders {
  contentType: string;
  /** the strong validator (unquoted) */
  etag: string;
  downloadName?: string;
  attachment?: boolean;
}

/**
 * Sends a stored file with express's sendFile (the `send` module): single Range requests (206, 416
 * with `Content-Range: bytes *\/size`), If-None-Match/If-Range against our strong ETag (304), HEAD.
 */
export function sendMedia(req: Request, res: Response, path: string, headers: MediaHeaders): Promise<void> {
  res.setHeader('Content-Type', headers.contentType);
  res.setHeader('ETag', `"${headers.etag}"`);
  res.setHeader('Cache-Control', CACHE_CONTROL);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  if (headers.downloadName !== undefined || headers.attachment) {
    const name = headers.downloadName ?? 'download';
    const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
    res.setHeader('Content-Disposition', `${headers.attachment ? 'attachment' : 'inline'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`);
  }
  return new Promise((resolve) => {
    res.sendFile(path, { etag: false, lastModified: false, cacheControl: false, acceptRanges: true, dotfiles: 'allow' }, (error?: Error & { status?: number; statusCode?: number }) => {
      if (error && !res.headersSent) {
        const status = error.status ?? error.statusCode ?? 500;
        res.removeHeader('Content-Type');
        res.removeHeader('Content-Disposition');
        res.removeHeader('Cache-Control');
        res.removeHeader('ETag');
        if (status === 416) res.status(416).json({ code: 416, msg: 'range not satisfiable' });
        else if (status === 404) res.status(404).json({ code: 404, msg: 'no such media' });
        else res.status(500).json({ code: 0, msg: 'server error' });
      }
      resolve();
    });
  });
}
