// The sidebar: the support inbox, each engagement's rooms and unread counts.
import { h, replaceChildren } from '../dom.js';
import { openByIdForm } from './open_by_id.js';
import { sideNotifySettings } from './shell.js';
import { phaseChip } from './invitation.js';

export function renderSidebar(s) {
  if (!s.el) return;
  // The title and favicon count now: a tab in the background gets no animation frames.
  if (s.notifier) s.notifier.refresh();
  if (s.sidebarQueued) return;
  s.sidebarQueued = true;
  requestAnimationFrame(() => { s.sidebarQueued = false; drawSidebar(s); });
}

export function drawSidebar(s) {
  const items = [];
  const cur = s.current && s.current.ch;
  const link = (ch, label, href, extra) => {
    const c = s.channels.get(ch);
    const unread = c ? c.unread : 0;
    return h('li', null, h('a', {
      href, class: `chan-link${cur === ch ? ' active' : ''}`, testid: `channel-link-${ch}`,
      'aria-current': cur === ch ? 'page' : null,
      // Joined: its new events arrive live (and count as unread); before, they come with the join.
      dataset: { joined: c && c.joined ? 'true' : 'false' },
    },
    h('span', { class: 'chan-label' }, label),
    extra,
    // The count is read out as words; the visible name stays the start of the accessible one.
    unread ? h('span', { class: 'visually-hidden' }, `, ${unread} unread`) : null,
    h('span', { class: 'badge', testid: `unread-${ch}`, hidden: !unread, 'aria-hidden': 'true' }, String(unread))));
  };
  if (s.role === 'support') {
    items.push(h('h2', { class: 'side-h' }, 'Support'));
    const onList = s.current && s.current.kind === 'list';
    items.push(h('ul', { class: 'chan-list' },
      link('support', 'Support inbox', '#/support'),
      h('li', null, h('a', { href: '#/engagements', class: `chan-link${onList ? ' active' : ''}`, testid: 'all-engagements-link', 'aria-current': onList ? 'page' : null },
        h('span', { class: 'chan-label' }, 'All engagements')))));
  }
  const engIds = [...new Set([...s.listedEngagements(), ...s.recentEngagements])];
  if (engIds.length) items.push(h('h2', { class: 'side-h' }, s.role === 'support' ? 'Engagements opened' : 'Engagements'));
  for (const id of engIds) {
    const eng = s.engagements.get(id);
    const phase = eng ? eng.phaseInfo().phase : null;
    const medCh = `eng:${id}:mediation`;
    const med = s.channels.get(medCh);
    const hasMed = (med && med.joined && med.head > 0) || (eng && (eng.mediation === 'open' || eng.mediation === 'closed'));
    // An engagement created with a title is listed by it (the id stays beside it, muted).
    const title = eng && eng.state && typeof eng.state.title === 'string' && eng.state.title ? eng.state.title : null;
    items.push(h('div', { class: 'side-eng' },
      h('div', { class: 'side-eng-title', title: title ? `${title} · Engagement ${id}` : `Engagement ${id}` },
        h('span', null, title || id, title ? h('span', { class: 'side-eng-id' }, ` · ${id}`) : null), phaseChip(phase)),
      h('ul', { class: 'chan-list' },
        link(`eng:${id}`, 'Conversation', `#/eng/${encodeURIComponent(id)}`),
        hasMed ? link(medCh, 'Mediation room', `#/eng/${encodeURIComponent(id)}/mediation`, h('span', { class: 'chan-tag', 'aria-hidden': 'true' }, '⚖')) : null)));
  }
  if (s.allEngagements) items.push(openByIdForm(s));
  items.push(sideNotifySettings(s));
  replaceChildren(s.el.sidebar, items);
}
