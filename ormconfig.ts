import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options';

/** DataSource for the TypeORM CLI (`npm run typeorm -- migration:run`); needs DATABASE_URL. */
export default new DataSource({
  ...dataSourceOptions(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres', 4),
  migrationsRun: false,
});
