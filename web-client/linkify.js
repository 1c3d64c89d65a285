// Splits message text into plain text and `https://` links, so a view can
// make the links clickable without ever treating the text as markup.
// Pure: no DOM, no globals besides URL.

// A strict https URL: host labels of ASCII letters, digits and hyphens, an
// optional port, then any run of characters that are not whitespace, quotes
// or angle brackets. Each part is unambiguous, so matching stays linear on
// long input.
const HTTPS_URL = /https:\/\/[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?(?:[/?#][^\s<>"'`]*)?/g;
const TRAILING_PUNCTUATION = /[.,;:!?'"]$/;
const MAX_LINK_LENGTH = 2048;

// Drops what ends a sentence rather than the URL: trailing `.,;:!?` and a
// closing parenthesis that has no opening one inside the URL.
function trimTrailing(url) {
  let u = url;
  for (;;) {
    if (TRAILING_PUNCTUATION.test(u)) { u = u.slice(0, -1); continue; }
    if (u.endsWith(')') && count(u, '(') < count(u, ')')) { u = u.slice(0, -1); continue; }
    return u;
  }
}

function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n += 1;
  return n;
}

// The URL as the browser would follow it, or null when it is not a plain
// https address (credentials in it, no dot in the host, over-long).
function safeHref(candidate) {
  if (candidate.length > MAX_LINK_LENGTH) return null;
  let url;
  try { url = new URL(candidate); } catch { return null; }
  if (url.protocol !== 'https:' || url.username || url.password) return null;
  if (!url.hostname.includes('.') || url.hostname.startsWith('.') || url.hostname.endsWith('.')) return null;
  return url.href;
}

// [{text}] and [{text, href}] segments whose texts, joined, are `text`.
export function splitLinks(text) {
  const s = String(text ?? '');
  const parts = [];
  let last = 0;
  HTTPS_URL.lastIndex = 0;
  for (let m = HTTPS_URL.exec(s); m; m = HTTPS_URL.exec(s)) {
    // Only at the start of a word: `xhttps://…` is not a link.
    if (m.index > 0 && /[A-Za-z0-9]/.test(s[m.index - 1])) continue;
    const shown = trimTrailing(m[0]);
    const href = safeHref(shown);
    if (!href) continue;
    if (m.index > last) parts.push({ text: s.slice(last, m.index) });
    parts.push({ text: shown, href });
    last = m.index + shown.length;
    HTTPS_URL.lastIndex = last;
  }
  if (last < s.length || !parts.length) parts.push({ text: s.slice(last) });
  return parts;
}
