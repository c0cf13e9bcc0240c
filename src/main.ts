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
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main().catch((error) => {
  console.error(error);
  process.exit(1);
});
