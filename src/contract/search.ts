import { appUserId, EXPECTED, groupId, integer, MAX_SAFE, nullable, request, Schema, text } from './common';

/**
 * Search (PROTOCOL §12): every word of `query` must occur in a text message or a file name the caller
 * may read. How words and CJK text match: docs/search.md.
 */

/** Longest query, in code points. */
export const MAX_QUERY_CHARS = 100;
/** Largest page. */
export const MAX_SEARCH_LIMIT = 50;

export const search = request(
  'search',
  'Search the text messages and file names the caller may read, newest first (by msg_id). Optionally narrowed to one conversation.',
  {
    query: text('words to find, all of them (AND); CJK text matches as a substring', 1, MAX_QUERY_CHARS),
    app_user_ids: appUserId('narrow to the one-to-one conversation with this user (not with group_id)'),
    group_id: groupId('narrow to this group (not with app_user_ids)', 30),
    limit: nullable({ ...integer(`page size (default 20)`, 1, MAX_SEARCH_LIMIT), default: 20 }),
    before_msg_id: nullable(integer('only messages with a smaller msg_id (the last msg_id of the previous page)', 1, MAX_SAFE, 'must be a positive integer')),
  },
  ['query'],
  { allOf: [{ not: { required: ['app_user_ids', 'group_id'] }, [EXPECTED]: 'app_user_ids and group_id cannot be used together' } as Schema] },
);
