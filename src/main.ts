import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app-config';
import { startServer } from './server';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  // one failed background task must not take every user's connection down with it
  process.on('unhandledRejection', (reason) => new Logger('Process').error(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`));
  const server = await startServer(config);
  const log = new Logger('Shutdown');
  const stop = (signal: string) => {
    log.log(`${signal}: draining connections`);
    // a drain that hangs (e.g. a dead database) must not keep the process from exiting
    setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS + 10_000).unref();
    server.shutdown().then(
      () => process.exit(0),
      (error) => {
        log.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
