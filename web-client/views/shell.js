// The page frame around every view: header, side panels, toasts and the
// connection indicator.
import { h, replaceChildren, setText, humanize } from '../dom.js';

// Builds the frame into `root` and returns its parts, where the other views
// draw. `onSignOut` runs when the reader signs out.
export function mountShell(s, root, onSignOut) {
  const e = {};
  e.conn = h('span', { class: 'conn', testid: 'connection-state', role: 'status', 'aria-live': 'polite' }, 'Connecting…');
  e.menuBtn = h('button', { type: 'button', class: 'icon-btn menu-toggle', 'aria-label': 'Show channels', 'aria-controls': 'sidebar', 'aria-expanded': 'false', testid: 'menu-toggle', onclick: () => togglePanel(s, 'sidebar') }, '☰');
  e.detailsBtn = h('button', { type: 'button', class: 'icon-btn details-toggle', 'aria-label': 'Show engagement details', 'aria-controls': 'details', 'aria-expanded': 'false', testid: 'details-toggle', onclick: () => togglePanel(s, 'details') }, h('span', { class: 'info-glyph', 'aria-hidden': 'true' }, 'i'));
  e.topTitle = h('span', { class: 'top-title' }, '');
  const header = h('header', { class: 'topbar' },
    e.menuBtn,
    h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'), h('span', { class: 'brand-name' }, 'Parley')),
    e.topTitle,
    h('div', { class: 'top-right' },
      e.conn,
      e.availabilitySlot = h('span', { hidden: true }),
      h('span', { class: 'me', testid: 'me' },
        h('span', { class: 'me-name' }, s.me.name),
        h('span', { class: `role role-${s.me.role}` }, humanize(s.me.role))),
      notifyMenu(s, e),
      e.detailsBtn,
      h('button', { type: 'button', class: 'btn ghost small', testid: 'sign-out', onclick: onSignOut }, 'Sign out')));
  e.sidebar = h('nav', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Channels', testid: 'sidebar' });
  e.main = h('main', { class: 'main', id: 'main' });
  e.details = h('aside', { id: 'details', class: 'details', 'aria-label': 'Engagement details', testid: 'details' });
  e.scrim = h('div', { class: 'scrim', onclick: () => closePanels(s) });
  e.toasts = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', testid: 'toasts' });
  replaceChildren(root, h('div', { class: 'app' }, header, h('div', { class: 'shell' }, e.sidebar, e.main, e.details, e.scrim), e.toasts));
  return e;
}

// The notification settings: desktop notifications (the browser asks for
// permission only on this click) and the sound. Shown in a menu under a bell
// in the header and, on a phone, at the foot of the channel list; `prefix`
// keeps the two sets of ids apart, and a change in one updates both.
function notifySettings(s, prefix) {
  const n = s.notifier;
  const status = h('p', { class: 'notify-status', testid: `${prefix}-status`, 'aria-live': 'polite' });
  const desktop = h('input', { type: 'checkbox', id: `${prefix}-desktop`, testid: `${prefix}-desktop` });
  const sound = h('input', { type: 'checkbox', id: `${prefix}-sound`, testid: `${prefix}-sound` });
  const syncs = s.notifySyncs || (s.notifySyncs = []);
  const syncAll = () => { for (const f of syncs) f(); };
  syncs.push(() => {
    desktop.checked = n.desktopOn;
    sound.checked = n.soundOn;
    const perm = n.desktopPermission;
    desktop.disabled = perm === 'unsupported' || perm === 'denied';
    setText(status, perm === 'unsupported' ? 'This browser cannot show desktop notifications.'
      : perm === 'denied' ? 'Notifications are blocked for this site in the browser settings.'
        : n.desktopOn ? 'New messages to you, proposals awaiting you and deadlines.' : '');
    if (s.el && s.el.notifyBtn) s.el.notifyBtn.classList.toggle('on', n.desktopOn || n.soundOn);
  });
  desktop.addEventListener('change', async () => {
    desktop.disabled = true;
    await n.setDesktop(desktop.checked);
    syncAll();
  });
  sound.addEventListener('change', () => { n.setSound(sound.checked); syncAll(); });
  const el = h('div', { class: 'notify-settings' },
    h('label', { class: 'notify-option', for: `${prefix}-desktop` }, desktop, h('span', null, 'Desktop notifications')),
    h('label', { class: 'notify-option', for: `${prefix}-sound` }, sound, h('span', null, 'Sound')),
    status);
  return { el, syncAll, focus: () => (desktop.disabled ? sound : desktop).focus() };
}

function notifyMenu(s, e) {
  const settings = notifySettings(s, 'notify');
  e.notifyPanel = h('div', { id: 'notify-menu', class: 'notify-menu', role: 'group', 'aria-labelledby': 'notify-menu-h', testid: 'notify-menu', hidden: true },
    h('p', { class: 'notify-menu-h', id: 'notify-menu-h' }, 'Notifications'),
    settings.el);
  const close = () => { e.notifyPanel.hidden = true; e.notifyBtn.setAttribute('aria-expanded', 'false'); };
  e.notifyBtn = h('button', {
    type: 'button', class: 'icon-btn notify-toggle', 'aria-label': 'Notification settings', 'aria-controls': 'notify-menu', 'aria-expanded': 'false', testid: 'notify-toggle',
    onclick: () => {
      if (!e.notifyPanel.hidden) { close(); return; }
      settings.syncAll();
      e.notifyPanel.hidden = false;
      e.notifyBtn.setAttribute('aria-expanded', 'true');
      settings.focus();
    },
  }, h('span', { class: 'bell', 'aria-hidden': 'true' }));
  const wrap = h('div', { class: 'notify-wrap', onkeydown: (ev) => { if (ev.key === 'Escape' && !e.notifyPanel.hidden) { ev.stopPropagation(); close(); e.notifyBtn.focus(); } } }, e.notifyBtn, e.notifyPanel);
  document.addEventListener('click', (ev) => { if (!e.notifyPanel.hidden && !wrap.contains(ev.target)) close(); }, { signal: s.listening.signal });
  queueMicrotask(() => settings.syncAll());
  return wrap;
}

// The same settings for the foot of the channel list (shown on a phone,
// where the header has no room for the bell); built once per session.
export function sideNotifySettings(s) {
  if (!s.el.sideNotify) {
    const settings = notifySettings(s, 'side-notify');
    s.el.sideNotify = h('section', { class: 'side-notify', 'aria-labelledby': 'side-notify-h', testid: 'side-notify' },
      h('h2', { class: 'side-h', id: 'side-notify-h' }, 'Notifications'),
      settings.el);
    settings.syncAll();
  }
  return s.el.sideNotify;
}

// A view of its own rather than a channel (home, the engagement list): no
// timeline and no details panel. `title` names it in the tab, `heading` in
// the header.
export function enterPageView(s, kind, title, heading) {
  s.current = { kind };
  s.view = null;
  document.title = title;
  setText(s.el.topTitle, heading);
  document.body.classList.add('no-details');
  replaceChildren(s.el.details);
}

export function togglePanel(s, which) {
  const open = !document.body.classList.contains(`show-${which}`);
  closePanels(s);
  if (open) {
    document.body.classList.add(`show-${which}`);
    const btn = which === 'sidebar' ? s.el.menuBtn : s.el.detailsBtn;
    btn.setAttribute('aria-expanded', 'true');
    const panel = which === 'sidebar' ? s.el.sidebar : s.el.details;
    panel.setAttribute('tabindex', '-1');
    panel.focus();
  }
}

export function closePanels(s) {
  document.body.classList.remove('show-sidebar', 'show-details');
  s.el.menuBtn.setAttribute('aria-expanded', 'false');
  s.el.detailsBtn.setAttribute('aria-expanded', 'false');
}

export function toast(s, text, kind = 'info') {
  const t = h('div', { class: `toast ${kind}`, testid: 'toast' }, text);
  s.el.toasts.appendChild(t);
  setTimeout(() => t.remove(), 6000);
}

export function renderConnection(s) {
  if (!s.el) return;
  const c = s.conn;
  const pending = c.outbox.size;
  let text;
  switch (c.connectionState) {
    case 'online': text = pending ? `Connected · sending ${pending}` : 'Connected'; break;
    case 'connecting': text = 'Connecting…'; break;
    case 'waiting': {
      const left = Math.max(0, Math.ceil(((c.lastRetryAt || Date.now()) - Date.now()) / 1000));
      text = left > 0 ? `Offline · retrying in ${left}s` : 'Reconnecting…';
      break;
    }
    case 'refused': text = 'Signed out'; break;
    default: text = 'Offline';
  }
  s.el.conn.dataset.state = c.connectionState;
  setText(s.el.conn, text);
}
