// cnnlab studio: the page. A tiny router over the URL's #hash; each screen is a function that fills <main>.
//   #/                       projects
//   #/p/ID                   1 collect photos      #/p/ID/train       2 train
//   #/p/ID/results[/RUN]     3 results             #/p/ID/try[/RUN]   4 try it      #/p/ID/export[/RUN]  5 export
//   #/learn                  the lecture's ideas   #/learn/TOPIC      one idea's page (static/lab/TOPIC.js)
//   #/experiments            the lecture's claims tested (static/experiments.js)

import {h, errorBox} from './dom.js';
import {homeScreen} from './home.js';
import {collectScreen} from './collect.js';
import {trainScreen} from './train.js';
import {resultsScreen} from './results.js';
import {tryScreen} from './tryit.js';
import {exportScreen} from './export.js';
import {hubScreen} from './lab/hub.js';
import {experimentsScreen} from './experiments.js';
import {TOPICS} from './lab/common.js';

const SCREENS = {collect: collectScreen, train: trainScreen, results: resultsScreen, try: tryScreen, export: exportScreen};
const main = document.getElementById('main');
let current = null;  // {token, cleanups}
let token = 0;

/** What a screen gets to know when the page moves on: alive() and onCleanup(fn). */
function makeContext(mine) {
  const cleanups = [];
  return {
    alive: () => mine === token,
    onCleanup(fn) {
      if (mine !== token) fn(); else cleanups.push(fn);
    },
    cleanups,
  };
}

async function route() {
  if (current) for (const fn of current.cleanups.splice(0)) { try { fn(); } catch { /* a screen that is gone */ } }
  const mine = ++token;
  const ctx = makeContext(mine);
  current = ctx;
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const view = h('div', {class: 'view'});
  main.replaceChildren(view);
  main.setAttribute('aria-busy', 'true');
  const slow = setTimeout(() => { if (!view.childNodes.length) view.append(h('p', {class: 'muted loading'}, 'Loading…')); }, 300);
  try {
    if (parts[0] === 'experiments') {
      await experimentsScreen(view, {ctx});
    } else if (parts[0] === 'learn') {
      const topic = TOPICS.find((t) => t.key === parts[1]);
      if (topic) {
        const page = await import(`./lab/${topic.key}.js`);  // each page loads only when opened
        if (mine === token) await page.default(view, {ctx, args: parts.slice(2)});
      } else {
        await hubScreen(view, {ctx});
      }
    } else if (parts[0] === 'p' && parts[1]) {
      const screen = SCREENS[parts[2] || 'collect'] || collectScreen;
      await screen(view, {projectId: parts[1], runId: parts[3] || null, ctx});
    } else {
      await homeScreen(view, {ctx});
    }
  } catch (err) {
    if (mine !== token) return;
    view.replaceChildren(h('div', {class: 'card'}, h('h1', {tabindex: '-1'}, 'That did not work'), errorBox(err),
      h('p', {}, h('a', {href: '#/', class: 'button secondary'}, '← Back to your projects'))));
  } finally {
    clearTimeout(slow);
    view.querySelector('.loading')?.remove();
  }
  if (mine !== token) return;
  main.removeAttribute('aria-busy');
  document.title = `${view.querySelector('h1')?.textContent || 'cnnlab studio'} · cnnlab studio`;
  if (!document.activeElement || document.activeElement === document.body || !main.contains(document.activeElement)) {
    view.querySelector('h1')?.focus({preventScroll: true});
  }
  window.scrollTo(0, 0);
}

function markNav() {
  const where = location.hash.startsWith('#/learn') ? 'learn' : location.hash.startsWith('#/experiments') ? 'experiments' : 'projects';
  for (const a of document.querySelectorAll('.top-nav a')) {
    const on = a.dataset.nav === where;
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('hashchange', markNav);
markNav();
route();

// the skip link focuses the content (its #main must not reach the router)
document.querySelector('.skip-link')?.addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
