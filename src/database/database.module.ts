import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { dataSourceOptions } from './data-source-options';
import { Db } from './db';
import { WriteBatcher } from './write-batcher';

/** PostgreSQL at `url` (a server, or the embedded one); migrations run on start. */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(url: string, poolSize: number): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot({ ...dataSourceOptions(url, poolSize), retryAttempts: 3, retryDelay: 1000 })],
      providers: [Db, WriteBatcher],
      exports: [Db, WriteBatcher],
    };
  }
}
