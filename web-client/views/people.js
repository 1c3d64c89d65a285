// People with their presence and availability (protocol §9.3): the chips
// in a room's head (who is here, and whether they are away or busy) and the
// details panel's list of the room's people, connected or not, with the
// note, the reply time, working hours and "last seen 2 h ago". Relative
// times are drawn again every minute (views/availability.js keeps the clock).
import { h, replaceChildren } from '../dom.js';
import { personFacts, statusAt } from '../availability_text.js';

// A member's name: their presence entry's, else any of their events in the
// channel (an absent member's entry holds only the id), else the id.
export function personName(s, c, id) {
  if (id === s.me.id) return s.me.name || id;
  for (const m of [c.presence, c.absent]) { const u = m.get(id); if (u && u.name) return u.name; }
  const read = c.readBy.get(id);
  if (read && read.user && read.user.name) return read.user.name;
  for (let i = c.order.length - 1; i >= 0 && i >= c.order.length - 500; i -= 1) {
    const ev = c.events.get(c.order[i]);
    if (ev && ev.from && ev.from.id === id && ev.from.name) return ev.from.name;
  }
  return id;
}

// The people of the current room: connected ones first, the reader first of all.
function peopleOf(s, c) {
  const byName = (a, b) => (b.id === s.me.id) - (a.id === s.me.id) || String(a.name).localeCompare(String(b.name));
  // The reader is here whatever the lists say (a join may answer before its own presence is counted).
  const here = c.presence.has(s.me.id) || !c.joined ? [...c.presence.values()] : [...c.presence.values(), s.me];
  const present = here.map((u) => ({ ...u, name: personName(s, c, u.id), present: true })).sort(byName);
  const absent = [...c.absent.values()].filter((u) => !c.presence.has(u.id) && u.id !== s.me.id).map((u) => ({ ...u, name: personName(s, c, u.id), present: false }))
    .sort((a, b) => (Number(b.last_seen) || 0) - (Number(a.last_seen) || 0));
  return [...present, ...absent];
}

function currentChannel(s) {
  return s.current && s.current.ch ? s.channels.get(s.current.ch) : null;
}

// One fact as an element; a time's exact value is its tooltip and, for
// screen readers, part of the text.
function factNode(f) {
  const attrs = { class: `person-fact fact-${f.key}${f.status ? ` status-${f.status}` : ''}`, testid: `person-${f.key}`, title: f.title || null };
  if (f.key === 'last-seen') {
    return h('time', { ...attrs, datetime: new Date(f.at).toISOString() }, f.text, h('span', { class: 'visually-hidden' }, ` (${f.title})`));
  }
  return h('span', attrs, f.text, f.title && f.key === 'status' ? h('span', { class: 'visually-hidden' }, ` (${f.title})`) : null);
}

// A chip in the room's head: the online dot, the name, and the status when
// the person is busy or away (the rest is in the tooltip and the details panel).
export function presenceChip(s, u, now = Date.now()) {
  const facts = personFacts(u, { present: true, now });
  const status = facts.find((f) => f.key === 'status');
  const name = u.id === s.me.id ? 'You' : (u.name || u.id);
  return h('li', {
    class: `person${status ? ` avail-${status.status}` : ''}`, dataset: { userId: u.id }, testid: 'presence-user',
    title: [`${u.name || u.id} (${u.role})`, ...facts.map((f) => f.text)].join(' · '),
  },
  h('span', { class: 'dot', 'aria-hidden': 'true' }),
  h('span', { class: 'person-name' }, name),
  status ? h('span', { class: 'person-chip-status', testid: 'presence-status' }, ` · ${status.text}`) : null,
  h('span', { class: 'visually-hidden' }, `, ${u.role}, online${facts.length ? `, ${facts.map((f) => f.text).join(', ')}` : ''}`));
}

// The details panel's "People" section; its list is drawn again by renderPeople.
export function peoplePanel(s) {
  s.el.people = h('ul', { class: 'people-list', testid: 'people' });
  drawPeople(s);
  return h('section', { class: 'panel', 'aria-labelledby': 'd-people' }, h('h2', { id: 'd-people' }, 'People'), s.el.people);
}

export function renderPeople(s) {
  if (s.el && s.el.people && s.el.people.isConnected) drawPeople(s);
}

function drawPeople(s) {
  const c = currentChannel(s);
  const people = c ? peopleOf(s, c) : [];
  const now = Date.now();
  if (!people.length) { replaceChildren(s.el.people, h('li', { class: 'muted' }, 'Nobody else here yet.')); return; }
  replaceChildren(s.el.people, people.slice(0, 50).map((u) => {
    const a = u.id === s.me.id && s.myAvailability ? { ...u, availability: s.myAvailability.availability } : u;
    const facts = personFacts(a, { present: u.present, now });
    const status = statusAt(a.availability, now);
    return h('li', { class: `person-line ${u.present ? 'online' : 'offline'}${status ? ` avail-${status}` : ''}`, testid: 'person', dataset: { userId: u.id, present: String(u.present) } },
      h('span', { class: 'person-dot', 'aria-hidden': 'true' }),
      h('div', { class: 'person-body' },
        h('div', { class: 'person-head' },
          h('span', { class: 'person-name', testid: 'person-name' }, u.id === s.me.id ? `${u.name} (you)` : u.name),
          u.role ? h('span', { class: 'person-role' }, u.role) : null,
          h('span', { class: 'visually-hidden' }, u.present ? ', online' : ', not connected')),
        facts.length ? h('div', { class: 'person-facts' }, facts.map(factNode)) : null));
  }));
}
