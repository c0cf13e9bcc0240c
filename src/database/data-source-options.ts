import { DataSourceOptions } from 'typeorm';
import { InitialSchema1764100000000 } from './migrations/1764100000000-InitialSchema';
import { GroupInviteCodes1764200000000 } from './migrations/1764200000000-GroupInviteCodes';
import { GroupRolesAndMutes1764300000000 } from './migrations/1764300000000-GroupRolesAndMutes';
import { ConversationSettings1764300000001 } from './migrations/1764300000001-ConversationSettings';

/** Migrations in the order they run; the schema comes only from these (synchronize is off). */
export const MIGRATIONS = [InitialSchema1764100000000, GroupInviteCodes1764200000000, GroupRolesAndMutes1764300000000, ConversationSettings1764300000001];

/**
 * How long a query may wait for a pool connection, including opening a new one (ms). When the
 * database is unreachable or every connection is stuck, requests fail (code 0, /health 503) instead
 * of waiting forever. Not for the embedded database: its one connection is local and queues by design.
 */
export const DB_CONNECT_TIMEOUT_MS = 5000;

export function dataSourceOptions(url: string, poolSize: number, embedded = false): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [],
    migrations: MIGRATIONS,
    migrationsRun: true,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    extra: {
      max: poolSize,
      connectionTimeoutMillis: embedded ? 0 : DB_CONNECT_TIMEOUT_MS,
      // TCP keepalive: a connection to a server that vanished (host down, network cut) fails, not hangs
      keepAlive: true,
    },
  };
}
