import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { ImCode, ImError } from '../common/im-error';
import { AppConfig } from '../config/app-config';
import { Db } from '../database/db';
import { MetricsService } from '../metrics/metrics.service';
import { MessageLimits, validateMessage, ValidatedMessage } from '../messaging/message-rules';
import { accessRefusal, SendTarget } from './send-access';
import { postSigned } from './signer';

const EVENT = 'message.before_send';

type Outcome = 'allow' | 'reject' | 'replace' | 'failure';

/**
 * The before-send webhook (PROTOCOL §11, send step 3): asked after validation and the access checks,
 * before the message is stored. It allows, rejects (812 with its reason) or replaces content/extra
 * (validated again like a client's: 400 naming the field when the replacement is invalid). No
 * answer within BEFORE_SEND_TIMEOUT_MS, a non-2xx or an answer that is not one of the three:
 * BEFORE_SEND_ON_FAILURE decides. Not constructed into the send path when the URL is unset.
 */
@Injectable()
export class BeforeSendHook {
  readonly enabled: boolean;
  private readonly logger = new Logger('BeforeSend');

  constructor(
    private readonly db: Db,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.enabled = config.BEFORE_SEND_WEBHOOK_URL !== undefined;
  }

  /**
   * The message to store: `message` itself, or the app's replacement. Throws the access refusal
   * (404/811/403), 812 or 400. A (sender, nonce) already stored is not asked about (831 comes first).
   */
  async review(senderId: number, nonce: string, target: SendTarget, message: ValidatedMessage, limits: MessageLimits): Promise<ValidatedMessage> {
    const access = await accessRefusal(this.db, senderId, nonce, target);
    if (access.duplicate) return message;
    if (access.refusal) throw access.refusal;
    const body = JSON.stringify({
      event: EVENT,
      sender: access.sender,
      ...('group_id' in target ? { group_id: String(target.group_id) } : { to_app_user_id: target.to_app_user_id }),
      type: message.type,
      content: message.content,
      extra: message.extra,
    });
    const started = performance.now();
    const result = await postSigned(this.config.BEFORE_SEND_WEBHOOK_URL!, this.config.WEBHOOK_SECRET!, EVENT, randomUUID(), body, this.config.BEFORE_SEND_TIMEOUT_MS);
    let outcome: Outcome = 'failure';
    try {
      const answer = result.ok ? parseAnswer(result.text ?? '') : undefined;
      if (!answer) {
        this.logger.warn(`before-send webhook failed (${result.ok ? 'not an allow, reject or replace answer' : result.error}); BEFORE_SEND_ON_FAILURE=${this.config.BEFORE_SEND_ON_FAILURE}`);
        if (this.config.BEFORE_SEND_ON_FAILURE === 'reject') throw new ImError(ImCode.Moderation, 'rejected: the moderation service did not answer');
        return message;
      }
      outcome = answer.action;
      if (answer.action === 'allow') return message;
      if (answer.action === 'reject') {
        const reason = typeof answer.reason === 'string' && answer.reason.length > 0 ? answer.reason : 'rejected by moderation';
        throw new ImError(ImCode.Moderation, reason);
      }
      return replaced(message, answer, limits);
    } finally {
      this.metrics.beforeSendSeconds.observe({ outcome }, (performance.now() - started) / 1000);
    }
  }
}

interface Answer {
  action: 'allow' | 'reject' | 'replace';
  reason?: unknown;
  content?: unknown;
  extra?: unknown;
}

function parseAnswer(text: string): Answer | undefined {
  try {
    const answer = JSON.parse(text) as Answer;
    if (answer && typeof answer === 'object' && ['allow', 'reject', 'replace'].includes(answer.action)) return answer;
  } catch {
    // not JSON: a failure
  }
  return undefined;
}

/** The replacement, validated as a client's message of the same type; a field the app left out is kept. */
function replaced(message: ValidatedMessage, answer: Answer, limits: MessageLimits): ValidatedMessage {
  const request = {
    type: message.type,
    content: 'content' in answer ? answer.content : message.content,
    extra: 'extra' in answer ? answer.extra : message.extra,
  };
  try {
    return validateMessage(request, limits);
  } catch (error) {
    if (error instanceof ImError) throw ImError.badRequest(`the before-send webhook's replacement is invalid: ${error.message}`);
    throw error;
  }
}
