// api — the console's REST calls (docs/api.md). Same-origin fetch with the
// session cookie; JSON in, JSON out. A 401 from any call but the login
// itself fires 'pw:unauthorized' on window, so the console can show the
// login form again. Personal data never goes into a page URL: search
// terms travel only in these requests.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body, { quiet401 = false } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e.message || 'network error');
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) window.dispatchEvent(new CustomEvent('pw:unauthorized'));
    const err = new ApiError(res.status, (data && data.error) || `HTTP ${res.status}`, data);
    err.retryAfter = Number(res.headers.get('Retry-After')) || null;
    throw err;
  }
  return data;
}

const qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const api = {
  login: (user, password) => request('POST', '/api/login', { user, password }, { quiet401: true }),
  logout: () => request('POST', '/api/logout', undefined, { quiet401: true }),
  me: () => request('GET', '/api/me', undefined, { quiet401: true }),
  vehicles: (q, limit = 100, offset = 0) => request('GET', `/api/vehicles${qs({ q, limit, offset })}`),
  vehicle: (vin) => request('GET', `/api/vehicles/${encodeURIComponent(vin)}`),
  alerts: (params = {}) => request('GET', `/api/alerts${qs(params)}`),
  alert: (id) => request('GET', `/api/alerts/${encodeURIComponent(id)}`),
  updateAlert: (id, status, note) =>
    request('POST', `/api/alerts/${encodeURIComponent(id)}`, note ? { status, note } : { status }),
  reminders: (withinDays = 30, type) => request('GET', `/api/reminders${qs({ within_days: withinDays, type })}`),
  followups: (due) => request('GET', `/api/followups${qs({ due })}`),
  arrivals: (date) => request('GET', `/api/arrivals${qs({ date })}`),
};
