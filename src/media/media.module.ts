import { Module, OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppConfig } from '../config/app-config';
import { UsersModule } from '../users/users.module';
import { LocalMediaStore } from './local-media.store';
import { ClientTokenGuard, MediaController } from './media.controller';
import { MediaService } from './media.service';
import { MediaSigner } from './media-signer';
import { MediaStorage } from './media-types';
import { S3MediaStore } from './s3-media.store';
import { Thumbnails } from './thumbnails';

/** Media uploads and downloads (PROTOCOL §10): local storage under MEDIA_DIR, or an S3-compatible bucket. */
@Module({
  imports: [UsersModule],
  controllers: [MediaController],
  providers: [
    MediaSigner,
    LocalMediaStore,
    Thumbnails,
    MediaService,
    ClientTokenGuard,
    {
      provide: MediaStorage,
      useFactory: (config: AppConfig, local: LocalMediaStore) => (config.S3_BUCKET ? new S3MediaStore(config) : local),
      inject: [AppConfig, LocalMediaStore],
    },
  ],
})
export class MediaModule implements OnModuleDestroy {
  constructor(private readonly moduleRef: ModuleRef) {}

  onModuleDestroy(): void {
    const storage = this.moduleRef.get(MediaStorage);
    if (storage instanceof S3MediaStore) storage.destroy();
  }
}
