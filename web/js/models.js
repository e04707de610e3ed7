// SPDX-License-Identifier: MIT
// models.js - model leaderboards: what the `benchmark` plugin found when it
// compared models on one dataset (docs of the plugin give the format).
//
// A leaderboard is the `result` of a succeeded job of the benchmark plugin,
// so it lives in the job store: the page lists those jobs (newest first,
// GET /api/v1/jobs?plugin=benchmark&state=succeeded, keyset pages with
// `before`) and draws the selected one (#/models/ID; the newest by default)
// as a table, a chart of each model's score per fold, and the ROC curve or
// the forecast when the result carries one.  Charts are hand-written SVG
// styled by classes (the CSP allows no inline style attributes).
//
// A finished job never changes, so each job is fetched once and kept: a
// poll costs one small list request, and the selected leaderboard is drawn
// again only when the selection changes.  A result that is not a
// leaderboard (an older plugin, a test job) is left out of the list.

import { get } from './api.js';
import { h, s, fmtTime, setText, syncRows, replace } from './dom.js';

const PAGE = 20;

/* ------------------------------------------------------------ helpers */

const finite = (x) => typeof x === 'number' && Number.isFinite(x);

/* Is R a leaderboard this page can draw?  Only what every part of the page
 * relies on is checked; anything else is drawn when present. */
function isLeaderboard(r) {
	return r !== null && typeof r === 'object' && !Array.isArray(r) &&
		Array.isArray(r.models) && r.models.length > 0 &&
		r.models.every((m) => m && typeof m === 'object' && typeof m.model === 'string') &&
		typeof r.primary === 'string' && r.primary !== '';
}

/* The metrics to show, in the plugin's order, the primary first if the
 * plugin forgot it. */
function metricNames(lb) {
	const names = Array.isArray(lb.metrics) ? lb.metrics.filter((x) => typeof x === 'string') : [];
	if (!names.includes(lb.primary))
		names.unshift(lb.primary);
	return names;
}

function metric(m, name) {
	const v = m.metrics && m.metrics[name];
	return v && typeof v === 'object' ? v : null;
}

function folds(m, name) {
	const v = metric(m, name);
	return v && Array.isArray(v.folds) ? v.folds.filter(finite) : [];
}

/* Decimals that suit a value's size: scores near 1 get four, errors in the
 * tens two, so a column reads evenly. */
function decimals(x) {
	const a = Math.abs(x);
	return a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : a >= 1 ? 3 : 4;
}

function fmtNum(x, d) {
	return finite(x) ? x.toFixed(d ?? decimals(x)) : '—';
}

function fmtMs(ms) {
	if (!finite(ms))
		return '—';
	if (ms < 1)
		return `${ms.toFixed(2)}\u00a0ms`;
	if (ms < 1000)
		return `${ms.toFixed(ms < 10 ? 1 : 0)}\u00a0ms`;
	return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)}\u00a0s`;
}

function fmtP(p) {
	if (!finite(p))
		return '—';
	return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/* A model's params as k=v items that wrap between items, never inside. */
function fmtParams(p) {
	if (p === null || p === undefined || typeof p !== 'object')
		return p === null || p === undefined ? '' : String(p);
	return Object.entries(p).map(([k, v], i) => [i ? ', ' : '', h('span', { class: 'param' },
		`${k}=${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`)]);
}

function bestModel(lb) {
	return typeof lb.best === 'string' ? lb.best : lb.models[0].model;
}

/* Round ticks (1, 2 or 5 times a power of ten) covering [lo, hi]. */
function ticks(lo, hi, want) {
	if (!(hi > lo)) {
		const pad = Math.abs(lo) * 0.05 || 0.5;
		lo -= pad;
		hi += pad;
	}
	const raw = (hi - lo) / Math.max(1, want);
	const mag = Math.pow(10, Math.floor(Math.log10(raw)));
	const step = [1, 2, 5, 10].map((k) => k * mag).find((st) => st >= raw) || 10 * mag;
	const first = Math.floor(lo / step) * step, last = Math.ceil(hi / step) * step;
	const out = [];
	for (let v = first; v <= last + step / 2; v += step)
		out.push(Number(v.toFixed(12)));
	const d = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
	return { lo: first, hi: last, ticks: out, fmt: (v) => v.toFixed(d) };
}

const scale = (d0, d1, r0, r1) => (v) => r0 + (d1 === d0 ? 0.5 : (v - d0) / (d1 - d0)) * (r1 - r0);

const clip = (text, max) => (text.length > max ? text.slice(0, max - 1) + '…' : text);

/* An SVG chart that says what it shows to assistive technology. */
function chart(testid, w, hgt, label, ...children) {
	return s('svg', { class: 'chart', 'data-testid': testid, viewBox: `0 0 ${w} ${hgt}`,
		width: w, height: hgt, role: 'img', 'aria-label': label }, s('title', {}, label), ...children);
}

function xAxis(t, x, y, label, xmid) {
	return s('g', { class: 'axis' },
		s('line', { x1: x(t.lo), x2: x(t.hi), y1: y, y2: y }),
		t.ticks.map((v) => s('g', {},
			s('line', { x1: x(v), x2: x(v), y1: y, y2: y + 5 }),
			s('text', { x: x(v), y: y + 18, 'text-anchor': 'middle' }, t.fmt(v)))),
		label ? s('text', { class: 'axis-label', x: xmid, y: y + 36, 'text-anchor': 'middle' }, label) : null);
}

function yAxis(t, y, x, label, ymid) {
	return s('g', { class: 'axis' },
		s('line', { x1: x, x2: x, y1: y(t.lo), y2: y(t.hi) }),
		t.ticks.map((v) => s('g', {},
			s('line', { x1: x - 5, x2: x, y1: y(v), y2: y(v) }),
			s('text', { x: x - 8, y: y(v) + 4, 'text-anchor': 'end' }, t.fmt(v)))),
		label ? s('text', { class: 'axis-label', x: 14, y: ymid, 'text-anchor': 'middle',
			transform: `rotate(-90 14 ${ymid})` }, label) : null);
}

function gridLines(t, pos, from, to, vertical) {
	return s('g', { class: 'gridline' }, t.ticks.map((v) => vertical ?
		s('line', { x1: pos(v), x2: pos(v), y1: from, y2: to }) :
		s('line', { x1: from, x2: to, y1: pos(v), y2: pos(v) })));
}

/* ------------------------------------------------------------- charts */

/*
 * Each model's primary score: one dot per fold, the mean as a tall mark and
 * a bar of one standard deviation either side, models as rows best first.
 */
/* The values a metric can take: a band of mean ± std is cut there (an AUC
 * of 0.99 ± 0.02 is drawn up to 1, never past it). */
const BOUNDS = {
	roc_auc: [0, 1], accuracy: [0, 1], balanced_accuracy: [0, 1], f1_macro: [0, 1], f1: [0, 1],
	precision: [0, 1], recall: [0, 1], r2: [-Infinity, 1], log_loss: [0, Infinity],
	rmse: [0, Infinity], mae: [0, Infinity], mse: [0, Infinity], mase: [0, Infinity], mape: [0, Infinity],
};

function scoreChart(lb) {
	const p = lb.primary, best = bestModel(lb);
	const [lo, hi] = BOUNDS[p] || [-Infinity, Infinity];
	const clamp = (v) => Math.min(hi, Math.max(lo, v));
	const rows = lb.models.map((m) => {
		const v = metric(m, p) || {};
		const mean = finite(v.mean) ? v.mean : null, std = finite(v.std) ? v.std : 0;
		return { name: m.model, mean, std, folds: folds(m, p),
			from: mean === null ? null : clamp(mean - std), to: mean === null ? null : clamp(mean + std) };
	});
	const vals = [];
	for (const r of rows) {
		vals.push(...r.folds);
		if (r.mean !== null)
			vals.push(r.from, r.to);
	}
	if (vals.length === 0)
		return h('p', { class: 'empty', 'data-testid': 'score-chart' }, `No ${p} scores to draw.`);
	const ROW = 34, LEFT = 130, RIGHT = 24, TOP = 14, W = 640;
	const plotH = rows.length * ROW;
	const H = TOP + plotH + 48;
	const t = ticks(Math.min(...vals), Math.max(...vals), 6);
	// Nor does the axis pass a bound (ticks() rounds outwards).
	t.lo = Math.max(t.lo, lo);
	t.hi = Math.min(t.hi, hi);
	t.ticks = t.ticks.filter((v) => v >= t.lo - 1e-9 && v <= t.hi + 1e-9);
	const x = scale(t.lo, t.hi, LEFT, W - RIGHT);
	const dir = lb.higher_is_better === false ? 'lower is better' : lb.higher_is_better === true ? 'higher is better' : '';
	const label = `${p} of each model per fold, with mean and one standard deviation` + (dir ? ` (${dir})` : '');
	return chart('score-chart', W, H, label,
		gridLines(t, x, TOP, TOP + plotH, true),
		rows.map((r, i) => {
			const cy = TOP + i * ROW + ROW / 2;
			const cls = ['model-row', r.name === best && 'best'];
			return s('g', { class: cls, 'data-model': r.name },
				s('text', { class: 'model-name', x: LEFT - 10, y: cy + 4, 'text-anchor': 'end' }, clip(r.name, 18)),
				r.mean !== null ? [
					s('line', { class: 'std-bar', x1: x(r.from), x2: x(r.to), y1: cy, y2: cy }),
					s('line', { class: 'std-cap', x1: x(r.from), x2: x(r.from), y1: cy - 5, y2: cy + 5 }),
					s('line', { class: 'std-cap', x1: x(r.to), x2: x(r.to), y1: cy - 5, y2: cy + 5 }),
				] : null,
				// Folds spread a little up and down so equal scores stay visible.
				r.folds.map((f, k) => s('circle', { class: 'fold-dot', cx: x(f), cy: cy + ((k % 3) - 1) * 5, r: 3.5 },
					s('title', {}, `${r.name}, fold ${k + 1}: ${fmtNum(f)}`))),
				r.mean !== null ? s('line', { class: 'mean-mark', x1: x(r.mean), x2: x(r.mean), y1: cy - 11, y2: cy + 11 },
					s('title', {}, `${r.name}: mean ${fmtNum(r.mean)} ± ${fmtNum(r.std)}`)) : null);
		}),
		xAxis(t, x, TOP + plotH + 4, p + (dir ? ` (${dir})` : ''), (LEFT + W - RIGHT) / 2));
}

function legend(items) {
	return h('ul', { class: 'chart-legend' }, items.map(([cls, text]) =>
		h('li', {}, h('span', { class: ['key', cls], 'aria-hidden': 'true' }), text)));
}

/* The ROC curves of every model (ROCS, best first), with the diagonal of
 * a coin toss.  Each model's line has its own colour and dash pattern,
 * the best the thickest, so that they tell apart without colour too. */
function rocChart(rocs) {
	const SIZE = 300, LEFT = 56, TOP = 12, W = LEFT + SIZE + 16, H = TOP + SIZE + 48;
	const t = ticks(0, 1, 5);
	const x = scale(0, 1, LEFT, LEFT + SIZE), y = scale(0, 1, TOP + SIZE, TOP);
	const curves = rocs.slice(0, 8).map((roc, k) => {
		const n = Math.min(roc.fpr.length, roc.tpr.length);
		const pts = [];
		for (let i = 0; i < n; i++)
			if (finite(roc.fpr[i]) && finite(roc.tpr[i]))
				pts.push([Math.min(1, Math.max(0, roc.fpr[i])), Math.min(1, Math.max(0, roc.tpr[i]))]);
		return { k, model: typeof roc.model === 'string' ? roc.model : 'model',
			auc: finite(roc.auc) ? roc.auc.toFixed(3) : '—',
			d: pts.map(([a, b], i) => `${i ? 'L' : 'M'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join('') };
	});
	const label = `ROC curves: ${curves.map((c) => `${c.model} AUC ${c.auc}`).join(', ')}`;
	return h('figure', { class: 'chart-box' },
		chart('roc-chart', W, H, label,
			gridLines(t, x, TOP, TOP + SIZE, true),
			gridLines(t, y, LEFT, LEFT + SIZE, false),
			s('line', { class: 'diagonal', x1: x(0), y1: y(0), x2: x(1), y2: y(1) }),
			// The best drawn last, on top.
			[...curves].reverse().map((c) => c.d ? s('path', { class: ['roc-line', `roc-${c.k}`], 'data-model': c.model, d: c.d }) : null),
			xAxis(t, x, TOP + SIZE, 'False positive rate', LEFT + SIZE / 2),
			yAxis(t, y, LEFT, 'True positive rate', TOP + SIZE / 2)),
		h('figcaption', {}, legend([...curves.map((c) => [`roc roc-${c.k}`, `${c.model} (AUC = ${c.auc})${c.k === 0 ? ', best' : ''}`]),
			['chance', 'chance (AUC = 0.5)']])));
}

/* Actual values against the forecast over t; the forecast has nulls where
 * the model made none (its training span), which break the line. */
function forecastChart(fc) {
	const n = Math.min(fc.t.length, fc.actual.length);
	const numeric = fc.t.slice(0, n).every(finite);
	const tv = (i) => (numeric ? fc.t[i] : i);
	const pred = Array.isArray(fc.predicted) ? fc.predicted : [];
	const ys = [];
	for (let i = 0; i < n; i++) {
		if (finite(fc.actual[i]))
			ys.push(fc.actual[i]);
		if (finite(pred[i]))
			ys.push(pred[i]);
	}
	const W = 720, LEFT = 64, RIGHT = 16, TOP = 12, PH = 240, H = TOP + PH + 48;
	const model = typeof fc.model === 'string' ? fc.model : 'forecast';
	if (n === 0 || ys.length === 0)
		return h('p', { class: 'empty', 'data-testid': 'forecast-chart' }, 'No forecast to draw.');
	const yt = ticks(Math.min(...ys), Math.max(...ys), 5);
	const x0 = tv(0), x1 = tv(n - 1);
	const x = scale(x0, x1, LEFT, W - RIGHT), y = scale(yt.lo, yt.hi, TOP + PH, TOP);
	let xt;
	if (numeric) {
		xt = ticks(x0, x1, 8);
		xt.ticks = xt.ticks.filter((v) => v >= x0 && v <= x1);
		xt.lo = x0;
		xt.hi = x1;
	} else {
		// Labels (dates, say): about eight of them, evenly spaced.
		const every = Math.max(1, Math.ceil(n / 8));
		const idx = [];
		for (let i = 0; i < n; i += every)
			idx.push(i);
		xt = { lo: 0, hi: n - 1, ticks: idx, fmt: (i) => clip(String(fc.t[i]), 12) };
	}
	const line = (vals) => {
		let d = '', pen = false;
		for (let i = 0; i < n; i++) {
			if (!finite(vals[i])) {
				pen = false;
				continue;
			}
			d += `${pen ? 'L' : 'M'}${x(tv(i)).toFixed(1)},${y(vals[i]).toFixed(1)}`;
			pen = true;
		}
		return d;
	};
	const first = pred.findIndex((v, i) => i < n && finite(v));
	const dA = line(fc.actual), dP = line(pred);
	// A forecast point with no neighbour would be an invisible line.
	const lone = [];
	for (let i = 0; i < n; i++)
		if (finite(pred[i]) && !finite(pred[i - 1]) && !finite(pred[i + 1]))
			lone.push(i);
	return h('figure', { class: 'chart-box' },
		chart('forecast-chart', W, H, `Actual values and the forecast of ${model}`,
			gridLines(yt, y, LEFT, W - RIGHT, false),
			first > 0 ? s('line', { class: 'origin', x1: x(tv(first)), x2: x(tv(first)), y1: TOP, y2: TOP + PH }) : null,
			dA ? s('path', { class: 'actual-line', d: dA }) : null,
			dP ? s('path', { class: 'forecast-line', d: dP }) : null,
			lone.map((i) => s('circle', { class: 'forecast-dot', cx: x(tv(i)), cy: y(pred[i]), r: 3 })),
			xAxis(xt, x, TOP + PH, '', 0),
			yAxis(yt, y, LEFT, '', 0)),
		h('figcaption', {}, legend([['actual', 'actual'], ['forecast', `forecast of ${model}`]].concat(
			first > 0 ? [['origin', `forecast starts at ${fc.t[first]}`]] : []))));
}

/* -------------------------------------------------------------- table */

function leaderboardTable(lb) {
	const names = metricNames(lb);
	const best = bestModel(lb);
	const dir = lb.higher_is_better === false ? '↓' : lb.higher_is_better === true ? '↑' : '';
	const head = ['Rank', 'Model', 'Params', ...names, 'Training time', 'p vs best'];
	return h('div', { class: 'scroll' }, h('table', { class: 'leaderboard', 'data-testid': 'leaderboard-table' },
		h('caption', {}, `Models ranked by ${lb.primary}` +
			(dir ? ` (${lb.higher_is_better ? 'higher' : 'lower'} is better)` : '') +
			(lb.test === 'corrected_resampled_t'
				? `; metrics are mean ± standard deviation over the ${lb.repeats} × ${lb.folds} folds of repeated cross-validation; p from the corrected resampled t-test (Nadeau-Bengio) against the best model.`
				: '; metrics are mean ± standard deviation over the folds; p from a paired t-test against the best model.')),
		h('thead', {}, h('tr', {}, head.map((t) => h('th', {
			scope: 'col', class: names.includes(t) || t === 'Rank' || t === 'Training time' || t === 'p vs best' ? 'num' : null,
		}, t, t === lb.primary ? h('span', { class: 'primary-mark', title: 'primary metric' }, ` ${dir || '★'}`) : null)))),
		h('tbody', {}, lb.models.map((m, i) => {
			const isBest = m.model === best;
			const vb = m.vs_best && typeof m.vs_best === 'object' ? m.vs_best : null;
			const sig = vb && finite(vb.p) && vb.p < 0.05;
			return h('tr', { class: isBest ? 'best' : null, 'data-testid': 'leaderboard-row', 'data-model': m.model },
				h('td', { class: 'num' }, finite(m.rank) ? m.rank : i + 1),
				h('th', { scope: 'row' }, m.model, isBest ? h('span', { class: 'best-tag' }, 'best') : null),
				h('td', { class: 'params mono' }, fmtParams(m.params)),
				names.map((k) => {
					const v = metric(m, k);
					if (!v || !finite(v.mean))
						return h('td', { class: 'num' }, '—');
					const d = decimals(v.mean);
					return h('td', { class: ['num', k === lb.primary && 'primary'] },
						fmtNum(v.mean, d), finite(v.std) ? h('span', { class: 'pm' }, ` ± ${fmtNum(v.std, d)}`) : null);
				}),
				h('td', { class: 'num' }, m.train_ms && finite(m.train_ms.mean) ? [fmtMs(m.train_ms.mean),
					finite(m.train_ms.std) ? h('span', { class: 'pm' }, ` ± ${fmtMs(m.train_ms.std)}`) : null] : '—'),
				h('td', { class: ['num', sig && 'sig'], title: sig ? 'significantly different from the best at the 5% level' : null },
					vb ? [fmtP(vb.p), finite(vb.t) ? h('span', { class: 'sub' },
						`t = ${vb.t.toFixed(2)}` + (finite(vb.df) ? `, df ${vb.df}` : '')) : null] : (isBest ? '—' : '')));
		}))));
}

/* ------------------------------------------------------------- detail */

function describe(lb) {
	const dd = (label, value, testid) => (value === null || value === undefined || value === '' ? null :
		[h('dt', {}, label), h('dd', { 'data-testid': testid }, value)]);
	return h('dl', { class: 'stats', 'data-testid': 'leaderboard-facts' },
		dd('Kind', lb.kind),
		dd('Dataset', lb.dataset),
		dd('Label', lb.label),
		dd('Classes', Array.isArray(lb.classes) ? lb.classes.join(', ') : null),
		dd('Validation', lb.validation),
		dd('Folds', lb.folds),
		dd('Repeats', lb.repeats > 1 ? `${lb.repeats} (p: corrected resampled t-test)` : null),
		dd('Primary metric', lb.primary + (lb.higher_is_better === false ? ' (lower is better)' :
			lb.higher_is_better === true ? ' (higher is better)' : '')),
		dd('Best model', bestModel(lb), 'leaderboard-best'));
}

function detail(job, lb) {
	const isRoc = (r) => r && typeof r === 'object' && Array.isArray(r.fpr) && Array.isArray(r.tpr);
	// Every model's curve (rocs); an older benchmark gave the best's only.
	const rocs = Array.isArray(lb.rocs) && lb.rocs.filter(isRoc).length ? lb.rocs.filter(isRoc) : isRoc(lb.roc) ? [lb.roc] : [];
	const fc = lb.forecast && typeof lb.forecast === 'object' && Array.isArray(lb.forecast.t) &&
		Array.isArray(lb.forecast.actual) ? lb.forecast : null;
	return [
		h('div', { class: 'title-row' },
			h('h2', { id: 'lb-h', 'data-testid': 'leaderboard-title' },
				`Leaderboard of job ${job.id}` + (lb.dataset ? ` · ${lb.dataset}` : '')),
			h('a', { href: `#/jobs/${job.id}` }, 'job details and log')),
		h('p', { class: 'sub' }, `Finished ${fmtTime(job.finished_ms)}` + (job.task ? ` · DAG task ${job.task}` : '')),
		describe(lb),
		leaderboardTable(lb),
		h('div', { class: 'models-charts' },
			h('section', { 'aria-labelledby': 'score-h' },
				h('h3', { id: 'score-h' }, `${lb.primary} per fold`),
				h('figure', { class: 'chart-box' }, scoreChart(lb),
					h('figcaption', {}, legend([['fold', 'one fold'], ['mean', 'mean'], ['std', '± 1 standard deviation']])))),
			rocs.length ? h('section', { 'aria-labelledby': 'roc-h' }, h('h3', { id: 'roc-h' }, rocs.length > 1 ? 'ROC curves' : 'ROC curve'), rocChart(rocs)) : null,
			fc ? h('section', { 'aria-labelledby': 'fc-h' }, h('h3', { id: 'fc-h' }, 'Actual vs forecast'), forecastChart(fc)) : null),
	];
}

/* ---------------------------------------------------------- the list */

function runRow(select) {
	const c = {};
	const el = h('tr', { 'data-testid': 'models-row' },
		h('th', { scope: 'row', class: 'num' }, (c.link = h('a', {}))),
		(c.task = h('td', {})),
		(c.finished = h('td', {})),
		(c.kind = h('td', {})),
		(c.dataset = h('td', {})),
		(c.best = h('td', {})),
		(c.score = h('td', { class: 'num' })));
	c.link.addEventListener('click', (ev) => {
		if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey)
			return;
		ev.preventDefault();
		select(Number(el.dataset.job));
	});
	return {
		el,
		update(e) {
			const { job, lb } = e;
			el.dataset.job = job.id;
			c.link.href = `#/models/${job.id}`;
			setText(c.link, job.id);
			setText(c.task, job.task || '');
			setText(c.finished, fmtTime(job.finished_ms));
			setText(c.kind, lb.kind || '');
			setText(c.dataset, lb.dataset || '');
			const best = bestModel(lb);
			setText(c.best, best);
			const m = lb.models.find((x) => x.model === best) || lb.models[0];
			const v = metric(m, lb.primary);
			setText(c.score, v && finite(v.mean) ? `${lb.primary} ${fmtNum(v.mean)}` : '');
		},
	};
}

export default {
	nav: 'models',
	title: 'Models',
	mount(root, ctx) {
		// #/models/ID once the router knows that route; #/models?job=ID works too.
		let wanted = Number(ctx.params[0] || ctx.query.get('job')) || 0;
		const cache = new Map();     // job id -> {job, lb} (lb null: not a leaderboard)
		let first = [];              // ids of the newest page, refreshed by every poll
		let older = [];              // ids of the older pages loaded on request
		let next = null;             // `before` for the next older page
		let olderAsked = false;
		let shown = -1;              // the job drawn in `box`

		const tbody = h('tbody', {});
		const list = h('section', { 'aria-labelledby': 'runs-h', hidden: true },
			h('h2', { id: 'runs-h' }, 'Benchmark runs'),
			h('div', { class: 'scroll' }, h('table', { class: 'models-list', 'data-testid': 'models-list' },
				h('thead', {}, h('tr', {}, ['Job', 'DAG task', 'Finished', 'Kind', 'Dataset', 'Best model', 'Score']
					.map((t) => h('th', { scope: 'col' }, t)))),
				tbody)));
		const moreBtn = h('button', { type: 'button', 'data-testid': 'models-older', hidden: true }, 'Older runs →');
		const hiddenNote = h('p', { class: 'sub', hidden: true, 'data-testid': 'models-skipped' });
		const empty = h('div', { class: 'placeholder', hidden: true, 'data-testid': 'models-empty' },
			h('p', {}, 'No leaderboards yet: run a benchmark task, e.g. the example DAG ',
				h('a', { href: '#/dags/breast_cancer_models' }, 'breast_cancer_models'),
				' (trigger it from the DAGs page).'),
			h('p', { class: 'sub' }, 'A leaderboard is the result of a succeeded job of the benchmark plugin: ' +
				'it ranks the models it trained by cross-validated metrics.'));
		const box = h('section', { class: 'leaderboard-box', 'aria-labelledby': 'lb-h', 'aria-live': 'polite' });
		root.append(
			h('h1', {}, 'Models'),
			h('p', { class: 'lead' }, 'Leaderboards of the benchmark plugin: models compared on one dataset by cross-validation.'),
			empty, list, h('div', { class: 'pager' }, moreBtn), hiddenNote, box);

		async function fetchJob(id) {
			if (cache.has(id))
				return cache.get(id);
			let job;
			try {
				job = await get(`/api/v1/jobs/${id}`);
			} catch (e) {
				if (e.status === 404) {
					const gone = { job: { id }, lb: null, missing: true };
					cache.set(id, gone);
					return gone;
				}
				throw e;
			}
			// Only a finished job is final enough to keep.
			const e = { job, lb: job.state === 'succeeded' && isLeaderboard(job.result) ? job.result : null };
			if (job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled')
				cache.set(id, e);
			return e;
		}

		async function page(before) {
			const q = new URLSearchParams({ plugin: 'benchmark', state: 'succeeded', limit: String(PAGE) });
			if (before !== null && before !== undefined)
				q.set('before', String(before));
			const r = await get('/api/v1/jobs?' + q);
			const ids = (r.jobs || []).map((j) => j.id);
			await Promise.all(ids.map(fetchJob));
			return { ids, next: r.next_before ?? null };
		}

		function select(id) {
			wanted = id;
			history.replaceState(null, '', `#/models/${id}`);
			return draw().catch((e) => ctx.showError(e.message));
		}

		const row = () => runRow(select);

		async function draw() {
			const ids = [...first, ...older.filter((id) => !first.includes(id))];
			const entries = ids.map((id) => cache.get(id)).filter((e) => e && e.lb);
			const skipped = ids.length - entries.length;
			const sel = wanted || (entries.length ? entries[0].job.id : 0);
			syncRows(tbody, entries, (e) => e.job.id, row);
			for (const tr of tbody.children) {
				const on = Number(tr.dataset.job) === sel;
				tr.classList.toggle('selected', on);
				const a = tr.querySelector('a');
				if (on)
					a.setAttribute('aria-current', 'true');
				else
					a.removeAttribute('aria-current');
			}
			list.hidden = entries.length === 0;
			empty.hidden = entries.length > 0 || wanted !== 0;
			moreBtn.hidden = next === null;
			hiddenNote.hidden = skipped === 0;
			setText(hiddenNote, `${skipped} benchmark job${skipped === 1 ? '' : 's'} without a leaderboard result ` +
				`${skipped === 1 ? 'is' : 'are'} not listed.`);
			if (sel === shown)
				return;
			if (sel === 0) {
				replace(box);
				shown = 0;
				return;
			}
			const e = await fetchJob(sel);
			if (wanted !== 0 && wanted !== sel)
				return;     // another selection arrived while this one loaded
			shown = sel;
			if (e.lb)
				replace(box, detail(e.job, e.lb));
			else if (e.missing)
				replace(box, h('p', { class: 'empty', 'data-testid': 'leaderboard-none' }, `There is no job ${sel}.`));
			else
				replace(box, h('p', { class: 'empty', 'data-testid': 'leaderboard-none' },
					`The result of job ${sel} (${e.job.plugin || 'unknown plugin'}, ${e.job.state || 'unknown state'}) is not a leaderboard. `,
					h('a', { href: `#/jobs/${sel}` }, 'See the job.')));
			if (!e.lb && e.job.state !== 'succeeded')
				shown = -1;     // a job still running may yet become a leaderboard
		}

		moreBtn.addEventListener('click', async () => {
			if (next === null)
				return;
			moreBtn.disabled = true;
			try {
				const p = await page(next);
				older = older.concat(p.ids);
				next = p.next;
				olderAsked = true;
				await draw();
			} catch (e) {
				ctx.showError(e.message);
			} finally {
				moreBtn.disabled = false;
			}
		});

		return {
			async refresh() {
				const p = await page(null);
				first = p.ids;
				// The cursor past the newest page matters only until older pages are shown.
				if (!olderAsked)
					next = p.next;
				await draw();
			},
		};
	},
};
