import { ArrayMaxSize, ArrayMinSize, IsArray, IsString } from 'class-validator';

/** Most users one `presence` request may ask about. */
export const PRESENCE_MAX_USERS = 200;

/** `{"action":"presence","nonce":"…","app_user_ids":["bob","carol"]}` (PROTOCOL §5). */
export class PresenceRequest {
  @IsArray({ message: 'app_user_ids must be an array of app_user_id strings' })
  @ArrayMinSize(1, { message: 'app_user_ids must hold at least 1 app_user_id' })
  @ArrayMaxSize(PRESENCE_MAX_USERS, { message: `app_user_ids must hold at most ${PRESENCE_MAX_USERS} app_user_ids` })
  @IsString({ each: true, message: 'app_user_ids must hold only strings' })
  app_user_ids: string[];
}
