import { DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { Db } from './db';
import { WriteBatcher } from './write-batcher';

const migrationLog = new Logger('Migrations');

/** PostgreSQL at `url` (a server, or the embedded one); migrations run on start. */
@Global()
@Module({})
export class DatabaseModule {
  /** `embedded`: the URL is the embedded database (one session behind every connection). */
  static forRoot(url: string, poolSize: number, embedded = false): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot({ ...dataSourceOptions(url, poolSize, embedded, (text) => migrationLog.log(text)), retryAttempts: 3, retryDelay: 1000 })],
      providers: [{ provide: Db, useFactory: (dataSource: DataSource) => new Db(dataSource, embedded), inject: [getDataSourceToken()] }, WriteBatcher],
      exports: [Db, WriteBatcher],
    };
  }
}
