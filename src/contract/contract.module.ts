import { Module } from '@nestjs/common';
import { AsyncApiController } from './asyncapi.controller';

/** Serves the protocol contract: GET /asyncapi.json. */
@Module({ controllers: [AsyncApiController] })
export class ContractModule {}
