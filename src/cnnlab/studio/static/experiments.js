// #/experiments: test the lecture's claims. Pick a claim and a budget, run it (a job on this computer), watch
// the trials go by, then read the result: every seed's difference, the mean with its 95% interval, the verdict.

import {api} from './api.js';
import {h, errorBox, toast, duration} from './dom.js';

const VERDICT_CLASS = {'supported': 'good', 'contradicted': 'bad', 'not shown at this budget': 'warn'};
const enc = encodeURIComponent;

function fmt(value, unit, signed = true) {
  if (value === null || value === undefined) return '–';
  const v = unit === '%' ? value * 100 : value;
  const sign = signed && v >= 0 ? '+' : '';
  if (unit === '%') return signed ? `${sign}${v.toFixed(1)} points` : `${v.toFixed(1)}%`;
  if (unit === 'steps') return signed ? `${sign}${v.toFixed(0)} steps` : v.toFixed(0);
  return `${sign}${v.toFixed(3)}`;
}

function badge(verdict) {
  return h('span', {class: `verdict verdict-${VERDICT_CLASS[verdict] || 'none'}`, dataset: {verdict}}, verdict);
}

export async function experimentsScreen(view, {ctx}) {
  let data = await api.get('/api/experiments');
  let budget = 'quick';
  let chosen = data.claims[0].name;
  const title = h('h1', {tabindex: '-1'}, 'Experiments: do the lecture\'s claims hold?');
  const list = h('div', {class: 'claim-list', role: 'list'});
  const detail = h('section', {class: 'card claim-detail', 'aria-live': 'polite'});
  const budgetSelect = h('select', {id: 'exp-budget', onchange: () => { budget = budgetSelect.value; draw(); }},
    data.budgets.map((b) => h('option', {value: b.name}, `${b.name} (${b.time})`)));
  const seeds = h('input', {id: 'exp-seeds', type: 'number', min: 2, max: 50, class: 'small-input', placeholder: 'default'});
  view.append(h('div', {class: 'page-head'}, title,
    h('p', {class: 'lead'}, 'The lecture makes claims: convolutions beat flattening, augmentation helps, batch norm ' +
      'speeds training... Here you test them. Each experiment trains two networks that differ in one thing only, ' +
      'several times with different seeds (the same photos, starting weights and order for both), and the verdict ' +
      'is computed from the differences, never written by hand.')),
  h('div', {class: 'card exp-controls'},
    h('div', {class: 'field-row'}, h('label', {for: 'exp-budget'}, 'Budget'), budgetSelect,
      h('label', {for: 'exp-seeds'}, 'Seeds'), seeds,
      h('span', {class: 'muted small-text'}, 'More seeds: a narrower interval, a longer wait.'))),
  h('div', {class: 'exp-grid'}, list, detail));

  let results = {};  // budget -> results.json
  const loadResults = async () => {
    results = {};
    for (const b of Object.keys(data.verdicts || {})) {
      try { results[b] = await api.get(`/api/experiments/${enc(b)}/results`); } catch { /* none yet */ }
    }
  };

  function draw() {
    const verdicts = (data.verdicts || {})[budget] || {};
    list.replaceChildren(...data.claims.map((c) => {
      const v = verdicts[c.name];
      return h('button', {type: 'button', role: 'listitem', class: `claim-card${c.name === chosen ? ' chosen' : ''}`,
        dataset: {claim: c.name}, 'aria-pressed': String(c.name === chosen), onclick: () => { chosen = c.name; draw(); }},
      h('span', {class: 'claim-title'}, c.title), v ? badge(v.verdict) : h('span', {class: 'muted small-text'}, 'not run yet'));
    }));
    drawDetail();
  }

  function drawDetail() {
    const c = data.claims.find((x) => x.name === chosen);
    const job = data.job;
    const running = job && job.status === 'running';
    const run = h('button', {type: 'button', class: 'primary', dataset: {action: 'run-claim'}, disabled: running,
      onclick: async () => {
        try {
          const body = {claim: chosen, budget};
          if (seeds.value) body.seeds = Number(seeds.value);
          data.job = await api.post('/api/experiments', body);
          drawDetail();
          poll();
        } catch (err) { toast(err.message, 'error'); }
      }}, `Run this experiment (${budget})`);
    const parts = [h('h2', {}, c.title), h('p', {class: 'claim-question'}, c.question),
      h('p', {class: 'muted small-text'}, `Arms: ${c.arms[0]} vs ${c.arms[1]}. Expected: ${c.expects}. ` +
        `Published: ${c.citation}.`),
      h('div', {class: 'button-row'}, run,
        running ? h('button', {type: 'button', class: 'ghost', dataset: {action: 'stop-claim'}, onclick: async () => {
          try { data.job = await api.post('/api/experiments/cancel'); drawDetail(); } catch (err) { toast(err.message, 'error'); }
        }}, 'Stop') : null)];
    if (job && (running || job.claim === chosen)) parts.push(progress(job));
    const res = (results[budget] || {claims: []}).claims.find((x) => x.name === chosen);
    if (res) parts.push(resultView(res, budget));
    else parts.push(h('p', {class: 'muted'}, `No result at the ${budget} budget yet: run it.`));
    detail.replaceChildren(...parts);
  }

  function progress(job) {
    const pct = job.total ? Math.round((100 * job.done) / job.total) : 0;
    const words = job.status === 'running'
      ? `Running ${job.claim} (${job.budget}): ${job.done} of ${job.total ?? '…'} trainings done` +
        (job.current ? ` · now ${job.current}` : '') + ` · ${duration((Date.now() / 1000) - job.started)}`
      : job.status === 'finished' ? `Finished ${job.claim} (${job.budget}).` : `${job.status}: ${job.error || ''}`;
    return h('div', {class: 'exp-progress', dataset: {status: job.status}},
      h('div', {class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct,
        'aria-label': 'Experiment progress'}, h('div', {class: 'progress-fill', style: `width: ${pct}%`})),
      h('p', {class: `status status-${job.status}`}, words));
  }

  function resultView(res, b) {
    const head = res.comparisons[0];
    const s = head.summary;
    const rows = res.comparisons.map((cmp) => h('tr', {dataset: {metric: cmp.metric, condition: cmp.condition}},
      h('td', {}, cmp.label),
      h('td', {}, fmt(mean(cmp.better), cmp.unit, false)), h('td', {}, fmt(mean(cmp.other), cmp.unit, false)),
      h('td', {dataset: {mean: cmp.summary ? String(cmp.summary.mean) : ''}}, fmt(cmp.summary && cmp.summary.mean, cmp.unit)),
      h('td', {}, cmp.summary && cmp.summary.lo !== null ? `${fmt(cmp.summary.lo, cmp.unit)} to ${fmt(cmp.summary.hi, cmp.unit)}` : '–'),
      h('td', {}, String(cmp.seeds.length)), h('td', {}, cmp.summary ? badge(cmp.summary.verdict) : '–')));
    return h('div', {class: 'exp-result', dataset: {budget: b}},
      h('p', {class: 'exp-verdict'}, badge(res.verdict), ' ',
        s ? `${head.label}: ${res.arms[0]} better by ${fmt(s.mean, head.unit)} on average over ${s.n} seeds ` +
          `(95% interval ${fmt(s.lo, head.unit)} to ${fmt(s.hi, head.unit)}).` : 'Needs two seeds for a verdict.'),
      h('img', {src: `/api/experiments/${enc(b)}/figures/${enc(res.name)}.png?t=${Date.now()}`, class: 'exp-figure',
        alt: `${res.title}: each seed's difference as a dot, the mean and its 95% interval as a bar`}),
      h('div', {class: 'table-wrap'}, h('table', {class: 'table exp-table'},
        h('thead', {}, h('tr', {}, ['Comparison', `${res.arms[0]}`, `${res.arms[1]}`, 'Difference', '95% interval', 'Seeds', 'Verdict']
          .map((x) => h('th', {}, x)))), h('tbody', {}, rows))),
      h('p', {}, h('strong', {}, 'Setup. '), res.setup),
      h('p', {}, h('strong', {}, 'Why. '), res.explanation),
      h('p', {}, h('strong', {}, 'Published. '), `${res.citation}: ${res.published}`),
      h('p', {class: 'muted small-text'}, 'The same on the command line: ',
        h('code', {}, `cnnlab experiment ${res.name} --budget ${b}`)),
      h('div', {class: 'button-row'},
        h('a', {class: 'button secondary small', href: `/api/experiments/${enc(b)}/report.html`, target: '_blank', rel: 'noopener'},
          'Open the whole lab report'),
        h('a', {class: 'button ghost small', href: `/api/experiments/${enc(b)}/report.md`, download: ''}, 'Download report.md')));
  }

  let timer = null;
  async function poll() {
    if (timer) clearTimeout(timer);
    if (!ctx.alive()) return;
    try {
      data = await api.get('/api/experiments');
      if (data.job && data.job.status !== 'running') await loadResults();
      draw();
    } catch (err) { detail.append(errorBox(err)); return; }
    if (data.job && data.job.status === 'running') timer = setTimeout(poll, 1000);
  }
  ctx.onCleanup(() => { if (timer) clearTimeout(timer); });
  await loadResults();
  draw();
  if (data.job && data.job.status === 'running') poll();
}

function mean(xs) {
  return xs && xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}
