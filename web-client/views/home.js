// The home view: the reader's engagements, and opening one by id.
import { h, replaceChildren, humanize } from '../dom.js';
import { openByIdForm } from './open_by_id.js';
import { renderSidebar } from './sidebar.js';
import { enterPageView } from './shell.js';

export function showHome(s, problem) {
  enterPageView(s, 'home', 'Parley', 'Engagements');
  const listed = s.listedEngagements();
  const content = [
    h('h1', null, 'Your engagements'),
    problem ? h('p', { class: 'form-error', role: 'alert' }, problem) : null,
  ];
  if (listed.length) {
    content.push(h('ul', { class: 'eng-list', testid: 'engagement-list' }, listed.map((id) => {
      const eng = s.engagements.get(id);
      const phase = eng ? eng.phaseInfo().phase : null;
      return h('li', null, h('a', { class: 'eng-card', href: `#/eng/${encodeURIComponent(id)}`, testid: `engagement-link-${id}` },
        h('span', { class: 'eng-card-title' }, `Engagement ${id}`),
        phase ? h('span', { class: `phase-chip phase-${phase}` }, humanize(phase)) : null,
        h('span', { class: 'eng-card-go', 'aria-hidden': 'true' }, '→')));
    })));
  } else if (!s.allEngagements) {
    content.push(h('p', { class: 'empty' }, 'This access token does not name any engagement.'));
  }
  if (s.allEngagements) content.push(openByIdForm(s));
  replaceChildren(s.el.main, h('div', { class: 'home', testid: 'home' }, content));
  renderSidebar(s);
}
