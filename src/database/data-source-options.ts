import { DataSourceOptions } from 'typeorm';
import { InitialSchema1764100000000 } from './migrations/1764100000000-InitialSchema';
import { GroupInviteCodes1764200000000 } from './migrations/1764200000000-GroupInviteCodes';

/** Migrations in the order they run; the schema comes only from these (synchronize is off). */
export const MIGRATIONS = [InitialSchema1764100000000, GroupInviteCodes1764200000000];

export function dataSourceOptions(url: string, poolSize: number): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [],
    migrations: MIGRATIONS,
    migrationsRun: true,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    extra: { max: poolSize },
  };
}
