// Small DOM helpers. Text is always set as text: strings passed as children
// become Text nodes, never markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'testid') el.setAttribute('data-testid', value);
      else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden' || key === 'selected') el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replaceChildren(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function formatTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

export function formatDateTime(ms) {
  return dateTimeFmt.format(new Date(ms));
}

// "3d 4h", "5h 12m", "8m", "less than a minute"
export function formatDuration(ms) {
  const abs = Math.abs(ms);
  const m = Math.floor(abs / 60000);
  const d = Math.floor(m / 1440);
  const hrs = Math.floor((m % 1440) / 60);
  const mins = m % 60;
  if (d > 0) return hrs ? `${d}d ${hrs}h` : `${d}d`;
  if (hrs > 0) return mins ? `${hrs}h ${mins}m` : `${hrs}h`;
  if (mins > 0) return `${mins}m`;
  return 'less than a minute';
}

export function initials(name) {
  const parts = String(name || '?').replace(/[^\p{L}\p{N}\s]/gu, '').trim().split(/\s+/).filter(Boolean);
  const letters = parts.slice(0, 2).map((p) => Array.from(p)[0] || '');
  return (letters.join('') || '?').toUpperCase();
}

// A stable hue per user id, so each person keeps one colour.
export function hueFor(id) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return hash % 360;
}

export function humanize(word) {
  const s = String(word || '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function excerpt(text, n) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

// A refused request as a sentence for the reader.
export function explain(err) {
  const text = {
    forbidden: 'You are not allowed to do that here.',
    conflict: 'That is not possible right now.',
    not_found: 'That item no longer exists.',
    rate_limited: 'Slow down a little and try again.',
    too_large: 'That is too long.',
    bad_request: 'The server did not accept that.',
  }[err.code];
  return text ? `${text}${err.message && err.message !== err.code ? ` (${err.message})` : ''}` : (err.message || 'Something went wrong.');
}
