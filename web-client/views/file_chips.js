// Files attached to a message or a delivery, as chips: a type icon, the
// name, the size, the hash (abbreviated; whole in the tooltip, copyable) and
// Download. A download is fetched with the reader's token (a link cannot
// carry it) and offered under the file's name from an object URL.
import { h, setText } from '../dom.js';
import { formatSize, fileFamily, shortHash, cleanFiles } from '../deliverables_text.js';
import { toast } from './shell.js';

// The icon of a file family: a span the stylesheet paints (an SVG mask per
// family, as a data: URL, so that the page loads nothing else and holds no
// markup of its own in the timeline).
export function fileIcon(family) {
  return h('span', { class: `file-icon family-${family}`, 'aria-hidden': 'true' });
}

const FAMILY_WORD = { image: 'Image', pdf: 'PDF', text: 'Text', archive: 'Archive', other: 'File' };

// The chips of `files` ({sha256, name, size, type}) of engagement `eng`.
export function fileChips(s, eng, files, { testid = 'file-chips' } = {}) {
  const list = cleanFiles(files);
  if (!list.length) return null;
  return h('ul', { class: 'file-chips', testid, 'aria-label': `${list.length} attached file${list.length === 1 ? '' : 's'}` },
    list.map((f) => fileChip(s, eng, f)));
}

function fileChip(s, eng, f) {
  const family = fileFamily(f.type, f.name);
  const size = f.size === null ? '' : formatSize(f.size);
  // The name read out holds the text shown: "Copy SHA-256 3f2a9c1e…b04d".
  const hash = h('button', {
    type: 'button', class: 'file-hash', testid: 'file-hash', title: `SHA-256 ${f.sha256} (click to copy)`,
    dataset: { sha256: f.sha256 },
    onclick: (e) => copyHash(s, f.sha256, e.currentTarget.querySelector('.hash-text')),
  }, h('span', { class: 'visually-hidden' }, 'Copy SHA-256 '), h('span', { class: 'hash-text' }, shortHash(f.sha256)));
  return h('li', { class: `file-chip family-${family}`, testid: 'file-chip', dataset: { sha256: f.sha256, family } },
    fileIcon(family),
    h('span', { class: 'file-meta' },
      h('span', { class: 'file-name', testid: 'file-name', title: f.name }, f.name),
      h('span', { class: 'file-sub' },
        h('span', { class: 'visually-hidden' }, `${FAMILY_WORD[family]}, `),
        size ? h('span', { class: 'file-size', testid: 'file-size' }, size) : null,
        hash)),
    h('button', {
      type: 'button', class: 'btn ghost small file-download', testid: 'file-download',
      'aria-label': `Download ${f.name}${size ? ` (${size})` : ''}`,
      onclick: (e) => downloadFile(s, eng, f, e.currentTarget),
    }, '⇩ Download'));
}

async function copyHash(s, sha256, shown) {
  try {
    await navigator.clipboard.writeText(sha256);
    const before = shown.textContent;
    setText(shown, 'Copied');
    setTimeout(() => { if (shown.isConnected) setText(shown, before); }, 1500);
  } catch {
    // No clipboard (an insecure origin, or refused): the whole hash to select by hand.
    toast(s, `SHA-256: ${sha256}`);
  }
}

// The file fetched with the token and handed to the browser as a download
// named as the sender named it.
export async function downloadFile(s, eng, f, btn) {
  if (btn) btn.disabled = true;
  try {
    const res = await fetch(`/api/v1/engagements/${encodeURIComponent(eng)}/files/${f.sha256}`, { headers: { Authorization: `Bearer ${s.token}` } });
    if (!res.ok) throw new Error(res.status === 404 ? 'the server does not hold it for this engagement' : `the server answered ${res.status}`);
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: f.name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  } catch (err) {
    toast(s, `${f.name} could not be downloaded: ${err.message}.`, 'error');
  } finally {
    if (btn && btn.isConnected) btn.disabled = false;
  }
}
