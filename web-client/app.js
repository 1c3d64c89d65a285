// Parley web client, boot: the sign-in screen, the token, and routing from
// the location's hash to a view.
import { h, replaceChildren, formatDateTime } from './dom.js';
import { decodeToken, isExpired, takeTokenFromLocation, loadToken, saveToken, forgetToken } from './lib/token.js';
import { ENG_ID } from './model.js';
import { Session } from './session.js';
import { closePanels } from './views/shell.js';
import { showHome } from './views/home.js';
import { showEngagementList } from './views/engagement_list.js';

const root = document.getElementById('app');
root.classList.remove('boot');
let session = null;

// ---------------------------------------------------------------- sign-in

function showSignIn(message) {
  if (session) { session.destroy(); session = null; }
  document.title = 'Sign in · Parley';
  const input = h('textarea', {
    id: 'token-input', testid: 'token-input', rows: '4', required: true, spellcheck: 'false',
    autocomplete: 'off', 'aria-describedby': 'token-help', placeholder: 'eyJhbGciOiJIUzI1NiIs…',
  });
  const error = h('p', { class: 'form-error', role: 'alert', testid: 'signin-error', hidden: !message }, message || '');
  const form = h('form', {
    class: 'signin-form', 'aria-label': 'Sign in',
    onsubmit: (e) => {
      e.preventDefault();
      const token = input.value.trim();
      if (!token) { error.hidden = false; error.textContent = 'Paste your access token first.'; return; }
      start(token);
    },
  },
  h('label', { for: 'token-input' }, 'Access token'),
  input,
  h('p', { id: 'token-help', class: 'hint' }, 'Open the sign-in link from the platform, or paste the access token it gave you. The token stays in this browser tab.'),
  error,
  h('button', { type: 'submit', class: 'btn primary wide', testid: 'signin-submit' }, 'Sign in'));
  replaceChildren(root, h('main', { class: 'signin', testid: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand big' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'P'), h('span', null, 'Parley')),
      h('h1', null, 'Sign in'),
      h('p', { class: 'lede' }, 'Messages, decisions and agreements for your engagement, in one place.'),
      form)));
  if (!message) input.focus();
}

function start(token) {
  let claims;
  try {
    claims = decodeToken(token);
  } catch (err) {
    forgetToken();
    showSignIn(err.message);
    return;
  }
  if (isExpired(claims)) {
    forgetToken();
    showSignIn(`This access token expired${claims.exp ? ` on ${formatDateTime(claims.exp * 1000)}` : ''}. Ask the platform for a new sign-in link.`);
    return;
  }
  saveToken(token);
  if (session) session.destroy();
  session = new Session(token, claims, { root, route, signOut: showSignIn });
  session.mount();
}

// ---------------------------------------------------------------- routing

// #/eng/<id>, #/eng/<id>/mediation, #/support, #/engagements, or home.
function route(s) {
  closePanels(s);
  const hash = location.hash.replace(/^#/, '');
  let m;
  if ((m = /^\/eng\/([^/]+)(\/mediation)?$/.exec(hash))) {
    const id = decodeURIComponent(m[1]);
    if (!ENG_ID.test(id) || (!s.allEngagements && !s.claims.eng.includes(id))) {
      showHome(s, `You do not have access to engagement “${id}”.`);
      return;
    }
    s.openChannel(m[2] ? `eng:${id}:mediation` : `eng:${id}`);
    return;
  }
  if (hash === '/support' && s.role === 'support') { s.openChannel('support'); return; }
  if (hash === '/engagements' && s.role === 'support') { showEngagementList(s); return; }
  const listed = s.listedEngagements();
  if (s.role === 'support') { location.replace('#/support'); return; }
  if (listed.length === 1 && !s.allEngagements) { location.replace(`#/eng/${encodeURIComponent(listed[0])}`); return; }
  showHome(s);
}

// ---------------------------------------------------------------- boot

const fromLink = takeTokenFromLocation();
if (fromLink) saveToken(fromLink);
const saved = fromLink || loadToken();
if (saved) start(saved);
else showSignIn();
