import { SubscribeMessage } from '@nestjs/websockets';
import { ImError } from '../common/im-error';
import { ReadByRequest } from '../contract/groups';
import { ReplyBody } from '../realtime/frames';
import { ImGateway } from '../realtime/im-gateway.decorator';
import { ImSocket } from '../realtime/im-ws-adapter';
import { ReadByService } from './read-by.service';

/** `readBy` (PROTOCOL §5): parameters in `extra` like the other group actions; validated by its schema. */
@ImGateway()
export class ReadByGateway {
  constructor(private readonly readBy: ReadByService) {}

  @SubscribeMessage('readBy')
  async readByRequest(socket: ImSocket, body: ReadByRequest): Promise<ReplyBody> {
    const connection = socket.connection;
    if (!connection) throw ImError.unauthorized();
    const groupId = body.extra.group_id ?? body.group_id;
    if (groupId === undefined) throw ImError.badRequest('extra.group_id is required');
    // group ids are allocated from 1 up: a well-formed id beyond 2^53 names no group
    const id = Number(groupId);
    if (!Number.isSafeInteger(id) || id < 1) throw ImError.notFound(`no such group: ${groupId}`);
    const data = await this.readBy.readBy(connection.userId, id, body.extra.msg_id, body.extra.limit ?? 100);
    return { group_id: String(id), data };
  }
}
