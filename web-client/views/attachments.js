// Files picked for a message or a delivery and uploaded at once (protocol
// §9.6): the paperclip button, drag-and-drop with a visible drop target,
// each file with its name, size, a progress bar with its percentage and a
// cancel button; refusals said in words. What is sent is `files: [{sha256,
// name}]` of the uploads that finished.
import { h, setText } from '../dom.js';
import { uploadFile } from '../lib/upload.js';
import { formatSize, fileFamily, uploadProblem, MAX_FILES } from '../deliverables_text.js';
import { fileIcon } from './file_chips.js';

// Uploads running at once; the others wait their turn (the server limits
// each user's upload rate).
const PARALLEL = 2;

let pickerCount = 0;

// The picker of engagement `eng`. `onChange()` runs whenever a file is
// added, progresses to done, fails or is removed. Returns its parts (button,
// list, error line) to place, and:
// busy() – an upload is running or waiting; files() – [{sha256, name}] of
// the finished ones; clear(); add(fileList); bindDrop(zones, signal).
export function filePicker(s, eng, { onChange = () => {}, testid = 'attach' } = {}) {
  pickerCount += 1;
  const inputId = `${testid}-input-${pickerCount}`;
  const items = []; // {file, name, state: waiting|uploading|done, loaded, result, handle, row, bar, pct}
  const error = h('p', { class: 'form-error attach-error', role: 'alert', testid: `${testid}-error`, hidden: true });
  const list = h('ul', { class: 'attach-list', testid: `${testid}-list`, 'aria-label': 'Files to send', hidden: true });
  const input = h('input', {
    type: 'file', multiple: true, id: inputId, hidden: true, testid: `${testid}-input`,
    onchange: () => { add(input.files); input.value = ''; },
  });
  const button = h('button', {
    type: 'button', class: 'icon-btn attach-btn', testid: `${testid}-button`, 'aria-label': 'Attach files', title: 'Attach files',
    onclick: () => input.click(),
  }, paperclip());

  const say = (text) => { setText(error, text || ''); error.hidden = !text; };
  const changed = () => { list.hidden = !items.length; onChange(); };

  const row = (it) => {
    const family = fileFamily(it.file.type, it.name);
    it.bar = h('progress', { max: '100', value: '0', testid: `${testid}-progress`, 'aria-label': `Upload of ${it.name}` });
    it.pct = h('span', { class: 'attach-pct', testid: `${testid}-percent` }, it.state === 'waiting' ? 'Waiting' : '0%');
    it.row = h('li', { class: `attach-item state-${it.state}`, testid: `${testid}-item`, dataset: { name: it.name } },
      fileIcon(family),
      h('span', { class: 'attach-name', title: it.name }, it.name),
      h('span', { class: 'attach-size' }, formatSize(it.file.size)),
      h('span', { class: 'attach-progress' }, it.bar, it.pct),
      h('button', {
        type: 'button', class: 'icon-btn attach-cancel', testid: `${testid}-cancel`,
        'aria-label': `Remove ${it.name}`, title: 'Cancel or remove',
        onclick: () => remove(it),
      }, '×'));
    return it.row;
  };

  const show = (it) => {
    if (!it.row) return;
    it.row.className = `attach-item state-${it.state}`;
    if (it.state === 'done') {
      it.bar.value = 100;
      setText(it.pct, '100%');
      it.row.dataset.sha256 = it.result.sha256;
    } else if (it.state === 'uploading') {
      const pct = it.file.size ? Math.min(100, Math.floor((it.loaded / it.file.size) * 100)) : 0;
      it.bar.value = pct;
      setText(it.pct, `${pct}%`);
    }
  };

  const pump = () => {
    while (items.filter((x) => x.state === 'uploading').length < PARALLEL) {
      const it = items.find((x) => x.state === 'waiting');
      if (!it) return;
      it.state = 'uploading';
      it.loaded = 0;
      show(it);
      it.handle = uploadFile({
        eng, file: it.file, name: it.name, token: s.token,
        onProgress: (loaded) => { it.loaded = loaded; show(it); },
      });
      it.handle.done.then((result) => {
        if (!items.includes(it)) return;
        it.state = 'done';
        it.result = result;
        show(it);
        changed();
        pump();
      }, (err) => {
        if (!items.includes(it)) return;
        drop(it);
        if (err.code !== 'cancelled') say(`${it.name}: ${uploadProblem(err)}`);
        changed();
        pump();
      });
    }
  };

  const drop = (it) => {
    const i = items.indexOf(it);
    if (i >= 0) items.splice(i, 1);
    if (it.row) it.row.remove();
  };

  // Cancels a running upload (nothing is sent), or takes a finished or
  // waiting file off the list.
  const remove = (it) => {
    if (it.handle) it.handle.cancel();
    drop(it);
    say('');
    changed();
    pump();
  };

  const add = (fileList) => {
    const files = [...(fileList || [])];
    if (!files.length) return;
    say('');
    const room = MAX_FILES - items.length;
    if (files.length > room) say(`At most ${MAX_FILES} files at a time: ${files.length - Math.max(0, room)} left out.`);
    for (const file of files.slice(0, Math.max(0, room))) {
      const it = { file, name: file.name || 'file', state: 'waiting', loaded: 0, result: null, handle: null };
      items.push(it);
      list.appendChild(row(it));
    }
    changed();
    pump();
  };

  // Files dragged over `zones` light them up; dropped there, they are added.
  const bindDrop = (zones, signal) => {
    let timer = 0;
    const hasFiles = (ev) => ev.dataTransfer && [...(ev.dataTransfer.types || [])].includes('Files');
    const light = (on) => { for (const z of zones) if (z) z.classList.toggle('drop-target', on); };
    // dragover repeats while the pointer is over a zone; when it stops, the target goes out.
    const over = (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
      light(true);
      clearTimeout(timer);
      timer = setTimeout(() => light(false), 250);
    };
    const dropped = (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      clearTimeout(timer);
      light(false);
      add(ev.dataTransfer.files);
    };
    for (const z of zones) {
      if (!z) continue;
      z.addEventListener('dragenter', over, { signal });
      z.addEventListener('dragover', over, { signal });
      z.addEventListener('drop', dropped, { signal });
    }
  };

  return {
    button,
    input,
    list,
    error,
    busy: () => items.some((it) => it.state !== 'done'),
    count: () => items.length,
    files: () => items.filter((it) => it.state === 'done').map((it) => ({ sha256: it.result.sha256, name: it.result.name || it.name })),
    clear: () => {
      for (const it of items.slice()) { if (it.handle && it.state !== 'done') it.handle.cancel(); drop(it); }
      say('');
      changed();
    },
    cancelAll: () => { for (const it of items.slice()) if (it.state !== 'done') remove(it); },
    add,
    bindDrop,
    say,
  };
}

// The paperclip, painted by the stylesheet.
function paperclip() {
  return h('span', { class: 'paperclip', 'aria-hidden': 'true' });
}

// The composer's attachments in room `ch` of engagement `eng`: the picker,
// and drops onto the composer and the timeline. A composer drawn again
// (another room, or the reader's permissions changed) ends the previous
// one's uploads and drop listeners.
let composerPicker = null;

export function composerAttachments(s, eng, { form, onChange }) {
  if (composerPicker) { composerPicker.abort.abort(); composerPicker.picker.cancelAll(); }
  const picker = filePicker(s, eng, { onChange, testid: 'attach' });
  const abort = new AbortController();
  picker.bindDrop([form, s.el.timelineScroll], abort.signal);
  composerPicker = { picker, abort };
  return picker;
}

// The pending list's parts in the composer: the list and the error line.
export function attachmentArea(picker) {
  return h('div', { class: 'attach-area', testid: 'attach-area' }, picker.list, picker.error);
}
