import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'crypto';
import { Socket } from 'net';

/**
 * The PostgreSQL startup and SCRAM-SHA-256 authentication (RFC 5802, RFC 7677, as PostgreSQL speaks
 * it) in front of the embedded database, whose own backend accepts any client. A socket reaches the
 * database only after proving it knows the password; until then nothing it sends is executed.
 * No channel binding: the listener is loopback-only and speaks no TLS.
 */

const PROTOCOL_3_0 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_STARTUP_BYTES = 10_000;
const MAX_SASL_BYTES = 2_000;
const ITERATIONS = 4096;

/** The server side of one password: made once (like a role's stored SCRAM verifier), used for every connection. */
export class ScramVerifier {
  readonly salt = randomBytes(16);
  readonly iterations = ITERATIONS;
  private readonly storedKey: Buffer;
  private readonly serverKey: Buffer;

  constructor(password: string) {
    const salted = pbkdf2Sync(password.normalize('NFKC'), this.salt, this.iterations, 32, 'sha256');
    this.storedKey = sha256(hmac(salted, 'Client Key'));
    this.serverKey = hmac(salted, 'Server Key');
  }

  /** True when `proof` (base64) is the client proof for `authMessage`; compared in constant time. */
  verify(authMessage: string, proof: string): boolean {
    const proofBytes = Buffer.from(proof, 'base64');
    if (proofBytes.length !== 32) return false;
    const signature = hmac(this.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proofBytes[i] ^ signature[i];
    return timingSafeEqual(sha256(clientKey), this.storedKey);
  }

  serverSignature(authMessage: string): string {
    return hmac(this.serverKey, authMessage).toString('base64');
  }
}

export class AuthFailure extends Error {
  constructor(
    message: string,
    /** SQLSTATE sent to the client (28P01 password failure, 08P01 protocol violation…). */
    readonly sqlState: string,
  ) {
    super(message);
  }
}

/**
 * Runs the startup and authentication on a fresh socket. Resolves, once the client proved the password,
 * with the bytes to hand to the database: the client's startup message (the database answers it with
 * AuthenticationOk and the session parameters) and anything the client sent after it. Rejects
 * (after writing an ErrorResponse when the client got that far) otherwise. On return the socket is
 * paused and none of this function's listeners remain.
 */
export async function authenticate(socket: Socket, verifier: ScramVerifier, timeoutMs: number): Promise<Buffer> {
  const reader = new Reader(socket, timeoutMs);
  try {
    const startup = await readStartup(socket, reader);
    const user = startupParameter(startup, 'user') ?? '';
    try {
      await scram(socket, reader, verifier);
    } catch (error) {
      if (error instanceof AuthFailure && error.sqlState === '28P01') {
        throw new AuthFailure(`password authentication failed for user "${user}"`, '28P01');
      }
      throw error;
    }
    return Buffer.concat([startup, reader.release()]);
  } catch (error) {
    reader.release();
    if (error instanceof AuthFailure && !socket.destroyed) socket.end(errorResponse(error.sqlState, error.message));
    throw error;
  }
}

async function readStartup(socket: Socket, reader: Reader): Promise<Buffer> {
  for (;;) {
    const length = (await reader.peek(4)).readInt32BE(0);
    if (length < 8 || length > MAX_STARTUP_BYTES) throw new Error('embedded database: bad startup packet length');
    const packet = await reader.take(length);
    const code = packet.readInt32BE(4);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      socket.write('N'); // no encryption on the loopback listener; the client goes on in plain text
      continue;
    }
    if (code === CANCEL_REQUEST) throw new Error('embedded database: cancel requests are not supported');
    if (code !== PROTOCOL_3_0) throw new AuthFailure(`unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`, '0A000');
    return packet;
  }
}

async function scram(socket: Socket, reader: Reader, verifier: ScramVerifier): Promise<void> {
  socket.write(authentication(10, Buffer.from('SCRAM-SHA-256\0\0')));

  const initial = await readPasswordMessage(reader);
  const nul = initial.indexOf(0);
  if (nul < 0 || initial.toString('utf8', 0, nul) !== 'SCRAM-SHA-256' || initial.length < nul + 5) {
    throw new AuthFailure('client selected an invalid SASL authentication mechanism', '28000');
  }
  const clientFirst = initial.subarray(nul + 5, nul + 5 + initial.readInt32BE(nul + 1)).toString('utf8');
  // gs2 header: "n,," (no channel binding) or "y,," (client could bind, server does not offer it)
  const match = /^([ny]),[^,]*,(n=[^,]*,r=([^,]+)(?:,.*)?)$/.exec(clientFirst);
  if (!match) throw new AuthFailure('malformed SCRAM message (client-first-message)', '08P01');
  const [, , clientFirstBare, clientNonce] = match;
  const gs2Header = clientFirst.slice(0, clientFirst.length - clientFirstBare.length);

  const nonce = clientNonce + randomBytes(18).toString('base64');
  const serverFirst = `r=${nonce},s=${verifier.salt.toString('base64')},i=${verifier.iterations}`;
  socket.write(authentication(11, Buffer.from(serverFirst)));

  const clientFinal = (await readPasswordMessage(reader)).toString('utf8');
  const proofAt = clientFinal.lastIndexOf(',p=');
  if (proofAt < 0) throw new AuthFailure('malformed SCRAM message (client-final-message)', '08P01');
  const withoutProof = clientFinal.slice(0, proofAt);
  const attributes = new Map(withoutProof.split(',').map((pair) => [pair.slice(0, 1), pair.slice(2)] as const));
  if (attributes.get('c') !== Buffer.from(gs2Header).toString('base64') || attributes.get('r') !== nonce) {
    throw new AuthFailure('malformed SCRAM message (channel binding or nonce mismatch)', '08P01');
  }
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  if (!verifier.verify(authMessage, clientFinal.slice(proofAt + 3))) throw new AuthFailure('password authentication failed', '28P01');
  socket.write(authentication(12, Buffer.from(`v=${verifier.serverSignature(authMessage)}`)));
}

async function readPasswordMessage(reader: Reader): Promise<Buffer> {
  const header = await reader.peek(5);
  const length = header.readInt32BE(1);
  if (header[0] !== 0x70 /* 'p' */ || length < 4 || length > MAX_SASL_BYTES) {
    throw new AuthFailure('expected a SASL response', '08P01');
  }
  return (await reader.take(1 + length)).subarray(5);
}

function startupParameter(startup: Buffer, name: string): string | undefined {
  const fields = startup.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function authentication(kind: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.write('R', 0);
  header.writeInt32BE(8 + payload.length, 1);
  header.writeInt32BE(kind, 5);
  return Buffer.concat([header, payload]);
}

/** An ErrorResponse with severity FATAL, the SQLSTATE and the message. */
export function errorResponse(sqlState: string, message: string): Buffer {
  const body = Buffer.from(`SFATAL\0VFATAL\0C${sqlState}\0M${message}\0\0`);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** Buffers what a socket sends until whole messages are there; fails on close, error or timeout. */
class Reader {
  private buffer = Buffer.alloc(0);
  private failure?: Error;
  private wake?: () => void;
  private readonly timer: NodeJS.Timeout;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > MAX_STARTUP_BYTES * 2) this.fail(new Error('embedded database: too much data before authentication'));
    this.wake?.();
  };
  private readonly onEnd = () => this.fail(new Error('embedded database: client went away during authentication'));

  constructor(
    private readonly socket: Socket,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.fail(new AuthFailure('authentication timed out', '08006')), timeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  async peek(count: number): Promise<Buffer> {
    while (this.buffer.length < count) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.failure) throw this.failure;
    return this.buffer.subarray(0, count);
  }

  async take(count: number): Promise<Buffer> {
    const bytes = Buffer.from(await this.peek(count));
    this.buffer = this.buffer.subarray(count);
    return bytes;
  }

  /** Stops reading (the socket is paused) and returns what was received and not taken. */
  release(): Buffer {
    clearTimeout(this.timer);
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake?.();
  }
}
