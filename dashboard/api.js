// Talking to Ara from the dashboard: same-origin requests with the session cookie and its CSRF
// token, which the server turns into its API key (docs/DASHBOARD.md).

let csrf = '';

/** Reads the session; sends the browser to the login form when there is none. */
export async function startSession() {
  const response = await fetch('/admin/api/session', { credentials: 'same-origin', cache: 'no-store' });
  if (response.status === 401) {
    location.assign('/admin/login');
    throw new Error('not logged in');
  }
  const session = await response.json();
  csrf = session.csrf_token;
  return session;
}

/** A JSON request: resolves with `{status, ok, body}` whatever the status; rejects only when unreachable. */
export async function call(method, path, body) {
  const headers = { 'X-CSRF-Token': csrf };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Plain text, such as /metrics.
  }
  if (response.status === 401 && ['MISSING_API_KEY', 'ADMIN_SESSION_REQUIRED'].includes(parsed?.error?.code)) {
    // The session ended (expired, logged out elsewhere, or the server restarted).
    location.assign('/admin/login');
  }
  return { status: response.status, ok: response.ok, body: parsed };
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);

export async function logout() {
  await call('POST', '/admin/logout');
  location.assign('/admin/login');
}

/** `{code, message}` of an error answer, or a made-up one for a non-JSON answer. */
export function errorOf(result) {
  return result.body?.error ?? { code: `HTTP_${result.status}`, message: String(result.body ?? '') };
}
