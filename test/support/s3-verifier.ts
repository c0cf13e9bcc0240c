import { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'http';
import { AddressInfo } from 'net';

/**
 * An S3 front for tests: s3rver stores and serves objects but does not check V4 signatures, so every
 * request passes through this proxy first, which recomputes a presigned request's signature with the
 * AWS SDK's own SignatureV4 (same credentials, same signing date and expiry, the headers the URL names
 * as signed, as received) and answers 403 like S3 when it differs or the URL has expired.
 */
export async function startVerifyingS3Proxy(target: { port: number }, credentials: { accessKeyId: string; secretAccessKey: string }, region: string): Promise<{ server: Server; port: number; refused: string[] }> {
  const sha256 = new S3Client({ region, credentials }).config.sha256;
  const signer = new SignatureV4({ service: 's3', region, credentials, sha256, uriEscapePath: false, applyChecksum: false });
  const refused: string[] = [];

  const server = createServer((req, res) => {
    verify(req).then(
      (problem) => {
        if (problem) {
          refused.push(problem);
          req.resume();
          res.writeHead(403, { 'Content-Type': 'application/xml' }).end(`<Error><Code>SignatureDoesNotMatch</Code><Message>${problem}</Message></Error>`);
          return;
        }
        forward(req, res);
      },
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });

  async function verify(req: IncomingMessage): Promise<string | undefined> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (!url.searchParams.has('X-Amz-Signature')) return req.method === 'GET' || req.method === 'HEAD' ? undefined : 'unsigned write';
    const query: Record<string, string> = {};
    for (const [name, value] of url.searchParams) if (name !== 'X-Amz-Signature' && name !== 'X-Amz-Content-Sha256') query[name] = value;
    const signedHeaders = (query['X-Amz-SignedHeaders'] ?? '').split(';');
    // the S3 presigner signs with this header (then hoisted into the query): the payload is not hashed
    const headers: Record<string, string> = { 'X-Amz-Content-Sha256': url.searchParams.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD' };
    for (const name of signedHeaders) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const date = query['X-Amz-Date'];
    const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const expiresIn = Number(query['X-Amz-Expires']);
    if (Date.now() > signingDate.getTime() + expiresIn * 1000) return 'expired';
    const [host, port] = (req.headers.host ?? '').split(':');
    const expected = await signer.presign(
      { method: req.method ?? 'GET', protocol: 'http:', hostname: host, port: port ? Number(port) : undefined, path: url.pathname, query, headers },
      { signingDate, expiresIn, signableHeaders: new Set(signedHeaders) },
    );
    return expected.query?.['X-Amz-Signature'] === url.searchParams.get('X-Amz-Signature') ? undefined : `signature mismatch (${req.method} ${url.pathname}, signed headers ${signedHeaders.join(';')})`;
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const upstream = httpRequest({ hostname: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => res.writeHead(502).end(error.message));
    req.pipe(upstream);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, refused };
}
