// Access tokens. The payload is decoded only to learn who the user is and which
// engagements the token names; the server verifies the signature.

const STORAGE_KEY = 'parley.token';

function base64UrlDecode(part) {
  let s = part.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  const binary = atob(s);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// Returns {sub, name, role, eng, exp} or throws an Error with a readable message.
export function decodeToken(token) {
  const parts = String(token || '').trim().split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1]) throw new Error('This does not look like an access token.');
  let payload;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error('This access token cannot be read.');
  }
  if (!payload || typeof payload !== 'object' || typeof payload.sub !== 'string' || typeof payload.role !== 'string') {
    throw new Error('This access token does not name a user and a role.');
  }
  const eng = Array.isArray(payload.eng) ? payload.eng.filter((e) => typeof e === 'string') : [];
  return {
    sub: payload.sub,
    name: typeof payload.name === 'string' && payload.name ? payload.name : payload.sub,
    role: payload.role,
    eng,
    exp: typeof payload.exp === 'number' ? payload.exp : 0,
  };
}

export function isExpired(claims, nowMs = Date.now()) {
  return !claims.exp || claims.exp * 1000 <= nowMs;
}

// Reads "#token=..." from the address, removes it from the address bar and
// history, and returns it (or null). The fragment is never sent to the server.
export function takeTokenFromLocation() {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash.startsWith('token=') && !hash.includes('&token=')) return null;
  const params = new URLSearchParams(hash);
  const token = params.get('token');
  const eng = params.get('eng');
  const rest = eng ? `#/eng/${encodeURIComponent(eng)}` : '#/';
  history.replaceState(null, '', window.location.pathname + window.location.search + rest);
  return token ? token.trim() : null;
}

export function loadToken() {
  try { return sessionStorage.getItem(STORAGE_KEY); } catch { return null; }
}

export function saveToken(token) {
  try { sessionStorage.setItem(STORAGE_KEY, token); } catch { /* private mode: keep it in memory only */ }
}

export function forgetToken() {
  try { sessionStorage.removeItem(STORAGE_KEY); } catch { /* nothing stored */ }
}
