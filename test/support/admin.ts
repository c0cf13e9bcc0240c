/** The admin REST API, as the app's back end would call it. */
export class AdminClient {
  constructor(
    readonly baseUrl: string,
    readonly adminToken: string,
  ) {}

  async call(method: string, path: string, body?: unknown, token: string | null = this.adminToken): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: response.status, body: parsed };
  }

  async putUser(appUserId: string, nickname = appUserId, head?: string): Promise<any> {
    const response = await this.call('PUT', `/admin/users/${encodeURIComponent(appUserId)}`, head === undefined ? { nickname } : { nickname, head });
    if (response.status !== 200) throw new Error(`PUT user ${appUserId}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  async token(appUserId: string, ttlSeconds?: number): Promise<{ token: string; expires_at: number }> {
    const response = await this.call('POST', `/admin/users/${encodeURIComponent(appUserId)}/tokens`, ttlSeconds ? { ttl_seconds: ttlSeconds } : {});
    if (response.status !== 200) throw new Error(`token ${appUserId}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  }

  /** Creates the user when missing (nickname = id) and issues a token. */
  async ensureUserToken(appUserId: string): Promise<{ token: string; expires_at: number }> {
    const existing = await this.call('GET', `/admin/users/${encodeURIComponent(appUserId)}`);
    if (existing.status === 404) await this.putUser(appUserId, `${appUserId}-nick`);
    return this.token(appUserId);
  }
}
