/**
 * Why was a connection refused? A browser's WebSocket and EventSource hide the HTTP answer, so the
 * client asks again with a plain GET of `/ws`: the server authenticates it like an upgrade and answers
 * with the same `{"error":{"code","message"}}`, or `WEBSOCKET_UPGRADE_REQUIRED` when the token is good,
 * without registering a connection.
 */

export type ProbeResult =
  | { reachable: true; status: number; code: string; message: string; retryAfterSeconds?: number }
  | { reachable: false; message: string };

export async function probeConnect(fetcher: typeof fetch | undefined, url: string): Promise<ProbeResult> {
  if (!fetcher) return { reachable: false, message: 'no fetch to ask the server why' };
  let response: Response;
  try {
    response = await fetcher(url, { method: 'GET', cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    return { reachable: false, message: e instanceof Error ? e.message : String(e) };
  }
  let body: { error?: { code?: unknown; message?: unknown }; retry_after_seconds?: unknown } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // Not the server's JSON: a proxy's page, say.
  }
  const header = Number(response.headers.get('retry-after'));
  const inBody = Number((body.error as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds);
  const retryAfterSeconds = Number.isFinite(inBody) && inBody > 0 ? inBody : header > 0 ? header : undefined;
  const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP_${response.status}`;
  const message = typeof body.error?.message === 'string' ? body.error.message : `HTTP status ${response.status}`;
  return { reachable: true, status: response.status, code, message, retryAfterSeconds };
}
