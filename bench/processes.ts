/**
 * The processes the benches start (the IM server, the raw baseline, load generators) and what they
 * read of them in /proc.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';

const ROOT = join(__dirname, '..');
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export interface Started {
  process: ChildProcess;
  /** the first match of `ready` in its output */
  match: RegExpExecArray;
  /** its exit code (128 when a signal ended it) */
  exited: Promise<number | null>;
}

/**
 * Runs a TypeScript file of this repository (`args[0]`, through ts-node) with only PATH, HOME and `env`,
 * and resolves once its output matches `ready`. From then on both pipes are drained, so the process can
 * never block on a full pipe: stdout is discarded, stderr lines with "error" are passed on. Rejects with
 * the output when it exits first.
 */
export function startUntil(args: string[], env: Record<string, string>, ready: RegExp): Promise<Started> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (!match) return;
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.on('data', (more: Buffer) => /error/i.test(more.toString()) && process.stderr.write(more));
      resolve({ process: child, match, exited });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)));
  });
}

export interface Server extends Started {
  port: number;
}

/** A server (src/main.ts or bench/raw-server.ts), ready once it printed "listening on port N". */
export async function startServer(args: string[], env: Record<string, string>): Promise<Server> {
  const started = await startUntil(args, env, /listening on port (\d+)/);
  return { ...started, port: Number(started.match[1]) };
}

/** SIGTERM, and wait for the exit (SIGKILL after 30 s). */
export async function stopProcess(started: Started): Promise<void> {
  if (started.process.exitCode !== null || started.process.signalCode !== null) return;
  started.process.kill('SIGTERM');
  const timer = setTimeout(() => started.process.kill('SIGKILL'), 30_000);
  await started.exited;
  clearTimeout(timer);
}

/** user+system CPU of a process in µs, and its RSS in bytes (from /proc); zeros when it is gone. */
export function procStat(pid: number): { cpuUs: number; rss: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuUs = ((Number(fields[11]) + Number(fields[12])) / TICK) * 1e6;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    return { cpuUs, rss };
  } catch {
    return { cpuUs: 0, rss: 0 };
  }
}
