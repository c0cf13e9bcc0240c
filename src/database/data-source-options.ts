import { DataSourceOptions, QueryRunner } from 'typeorm';
import { InitialSchema1764100000000 } from './migrations/1764100000000-InitialSchema';
import { GroupInviteCodes1764200000000 } from './migrations/1764200000000-GroupInviteCodes';
import { GroupRolesAndMutes1764300000000 } from './migrations/1764300000000-GroupRolesAndMutes';
import { ConversationSettings1764300000001 } from './migrations/1764300000001-ConversationSettings';
import { MessageLifecycle1764400000000 } from './migrations/1764400000000-MessageLifecycle';
import { LifecycleCounts1764400000001 } from './migrations/1764400000001-LifecycleCounts';
import { ReactionOrder1764400000002 } from './migrations/1764400000002-ReactionOrder';
import { WebhookOutbox1764500000000 } from './migrations/1764500000000-WebhookOutbox';
import { MessageSearch1764500000002 } from './migrations/1764500000002-MessageSearch';
import { SearchPendingList1764600000000 } from './migrations/1764600000000-SearchPendingList';

/** Migrations in the order they run; the schema comes only from these (synchronize is off). */
export const MIGRATIONS = [
  InitialSchema1764100000000,
  GroupInviteCodes1764200000000,
  GroupRolesAndMutes1764300000000,
  ConversationSettings1764300000001,
  MessageLifecycle1764400000000,
  LifecycleCounts1764400000001,
  ReactionOrder1764400000002,
  WebhookOutbox1764500000000,
  MessageSearch1764500000002,
  SearchPendingList1764600000000,
];

/**
 * How long a query may wait for a pool connection, including opening a new one (ms). When the
 * database is unreachable or every connection is stuck, requests fail (code 0, /health 503) instead
 * of waiting forever. Not for the embedded database: its one connection is local and queues by design.
 */
export const DB_CONNECT_TIMEOUT_MS = 5000;

/** MIGRATIONS, each saying "running migration N of M" through `announce` as it starts. */
export function announcedMigrations(announce: (text: string) => void): Function[] {
  return MIGRATIONS.map(
    (Migration, index) =>
      class extends Migration {
        async up(queryRunner: QueryRunner): Promise<void> {
          announce(`running migration ${index + 1} of ${MIGRATIONS.length}: ${this.name}`);
          await super.up(queryRunner);
        }
      },
  );
}

export function dataSourceOptions(url: string, poolSize: number, embedded = false, announce?: (text: string) => void): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [],
    migrations: announce ? announcedMigrations(announce) : MIGRATIONS,
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
