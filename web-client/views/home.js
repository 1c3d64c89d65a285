// The home view: the reader's engagements, and opening one by id.
import { h, replaceChildren } from '../dom.js';
import { openByIdForm } from './open_by_id.js';
import { renderSidebar } from './sidebar.js';
import { enterPageView } from './shell.js';
import { phaseChip } from './invitation.js';

export function showHome(s, problem) {
  enterPageView(s, 'home', 'Parley', 'Engagements');
  const listed = s.listedEngagements();
  const content = [
    h('h1', null, 'Your engagements'),
    problem ? h('p', { class: 'form-error', role: 'alert' }, problem) : null,
  ];
  if (listed.length) {
    s.el.homeList = h('ul', { class: 'eng-list', testid: 'engagement-list' });
    content.push(s.el.homeList);
    renderHomeList(s);
  } else if (!s.allEngagements) {
    content.push(h('p', { class: 'empty' }, 'This access token does not name any engagement.'));
  }
  if (s.allEngagements) content.push(openByIdForm(s));
  replaceChildren(s.el.main, h('div', { class: 'home', testid: 'home' }, content));
  renderSidebar(s);
}

// The listed engagements with their titles and phases, redrawn as their states arrive.
export function renderHomeList(s) {
  const list = s.el.homeList;
  if (!list || !list.isConnected) return;
  replaceChildren(list, s.listedEngagements().map((id) => {
    const eng = s.engagements.get(id);
    const phase = eng ? eng.phaseInfo().phase : null;
    const title = eng && eng.state && typeof eng.state.title === 'string' && eng.state.title ? eng.state.title : null;
    return h('li', null, h('a', { class: 'eng-card', href: `#/eng/${encodeURIComponent(id)}`, testid: `engagement-link-${id}` },
      h('span', { class: 'eng-card-title' }, title || `Engagement ${id}`, title ? h('span', { class: 'eng-card-id' }, ` · ${id}`) : null),
      phaseChip(phase),
      h('span', { class: 'eng-card-go', 'aria-hidden': 'true' }, '→')));
  }));
}
