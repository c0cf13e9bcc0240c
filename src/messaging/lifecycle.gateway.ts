import { SubscribeMessage } from '@nestjs/websockets';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { EditService } from './edit.service';
import { senderOf } from './messaging.service';
import { RecallService } from './recall.service';

/** recall, edit, editHistory (PROTOCOL §4); the rules are in RecallService and EditService. */
@ImGateway()
export class LifecycleGateway {
  constructor(
    private readonly recalls: RecallService,
    private readonly edits: EditService,
  ) {}

  @SubscribeMessage('recall')
  recall(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.recalls.recallRequest(senderOf(socket), request);
  }

  @SubscribeMessage('edit')
  edit(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.edits.edit(senderOf(socket), request);
  }

  @SubscribeMessage('editHistory')
  editHistory(socket: ImSocket, request: Record<string, unknown>): Promise<ReplyBody> {
    return this.edits.editHistory(senderOf(socket), request);
  }
}
