import { request as httpRequest, IncomingHttpHeaders } from 'http';

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One HTTP request with node:http, for what fetch does not allow: a Content-Length that differs from the
 * body, a chunked body, conditional requests without fetch's added `Cache-Control: no-cache`, a body
 * cut off mid-way (`abortAfter` bytes, then the socket is destroyed), a path sent exactly as written.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string | number>; body?: Buffer | Buffer[]; abortAfter?: number; rawPath?: string } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    // rawPath goes out as written (a URL would resolve `..` and `%2e%2e` segments first)
    const path = options.rawPath ?? `${target.pathname}${target.search}`;
    const req = httpRequest({ hostname: target.hostname, port: target.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const parts = options.body === undefined ? [] : Array.isArray(options.body) ? options.body : [options.body];
    if (options.abortAfter !== undefined) {
      req.write(Buffer.concat(parts).subarray(0, options.abortAfter), () => setTimeout(() => req.destroy(), 100));
      return;
    }
    for (const part of parts) req.write(part);
    req.end();
  });
}

/** POST /media/uploads with a client token. */
export async function requestUpload(baseUrl: string, token: string | undefined, body: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${baseUrl}/media/uploads`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** Asks for an upload ticket and PUTs `bytes` to it; returns the ticket. */
export async function upload(baseUrl: string, token: string, bytes: Buffer, contentType: string, fileName?: string): Promise<any> {
  const ticket = await requestUpload(baseUrl, token, { content_type: contentType, size: bytes.length, ...(fileName ? { file_name: fileName } : {}) });
  if (ticket.status !== 200) throw new Error(`upload ticket: ${ticket.status} ${JSON.stringify(ticket.body)}`);
  const put = await fetch(ticket.body.upload_url, { method: 'PUT', headers: ticket.body.headers, body: new Uint8Array(bytes) });
  if (put.status !== 200) throw new Error(`PUT: ${put.status} ${await put.text()}`);
  return ticket.body;
}
