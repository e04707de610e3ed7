// SPDX-License-Identifier: MIT
// worker.js - one worker (#/workers/NAME): its state, slots, memory, the
// data the master knows it holds, its plugins (and those it could not
// load), the tasks it runs now, its recent jobs, and its heartbeat
// history: the times of its last exchanges with the master (the master
// keeps 32) drawn on a time line, so that a late or irregular worker
// shows.  GET /api/v1/workers/NAME and /api/v1/jobs?worker=NAME.

import { get, enc } from './api.js';
import { h, s, badge, fmtBytes, fmtTime, fmtDuration, span, replace } from './dom.js';

const RECENT = 20;

/* The heartbeat times BEATS (unix ms, oldest first) as ticks on a line
 * ending now. */
function drawBeats(beats) {
	const W = 600, H = 44, L = 10;
	const now = Date.now();
	const t0 = Math.min(now - 1000, ...beats);
	const x = (t) => L + (W - 2 * L) * (t - t0) / (now - t0);
	const gaps = beats.slice(1).map((t, i) => t - beats[i]);
	const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'bars', role: 'img',
		'data-testid': 'heartbeats',
		'aria-label': `${beats.length} heartbeats over the last ${fmtDuration(now - t0)}` +
			(gaps.length ? `, the longest gap ${fmtDuration(Math.max(...gaps))}` : '') });
	svg.append(s('line', { x1: L, x2: W - L, y1: 24, y2: 24, class: 'axis-line' }));
	for (const t of beats)
		svg.append(s('line', { x1: x(t), x2: x(t), y1: 14, y2: 34, class: 'beat', 'data-testid': 'heartbeat' }));
	svg.append(s('text', { x: L, y: 10, class: 'sub' }, `-${fmtDuration(now - t0)}`),
		s('text', { x: W - L, y: 10, 'text-anchor': 'end', class: 'sub' }, 'now'));
	return svg;
}

function jobsTable(testid, rows, cols) {
	return h('div', { class: 'scroll' }, h('table', { 'data-testid': testid },
		h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c[0])))),
		h('tbody', {}, rows.map((j) => h('tr', { 'data-testid': `${testid}-row`, 'data-job': j.id },
			cols.map((c, i) => (i === 0 ? h('th', { scope: 'row', class: 'num' }, c[1](j)) : h('td', {}, c[1](j)))))))));
}

export default {
	nav: 'cluster',
	title: 'Worker',
	mount(root, ctx) {
		const name = ctx.params[0];
		const facts = h('dl', { class: 'stats', 'data-testid': 'worker-facts' });
		const beats = h('div', { class: 'scroll' });
		const running = h('div', {});
		const recent = h('div', {});
		const plugins = h('div', {});
		root.append(
			h('p', { class: 'crumbs' }, h('a', { href: '#/cluster' }, 'Cluster'), ' / '),
			h('h1', { 'data-testid': 'worker-title' }, name),
			facts,
			h('section', { 'aria-labelledby': 'beat-h' }, h('h2', { id: 'beat-h' }, 'Heartbeats'), beats),
			h('section', { 'aria-labelledby': 'run-h' }, h('h2', { id: 'run-h' }, 'Running now'), running),
			h('section', { 'aria-labelledby': 'recent-h' }, h('h2', { id: 'recent-h' }, 'Recent jobs'), recent),
			h('section', { 'aria-labelledby': 'plug-h' }, h('h2', { id: 'plug-h' }, 'Plugins'), plugins));
		const link = (j) => h('a', { href: `#/jobs/${j.id}` }, String(j.id));
		return {
			async refresh() {
				const [w, jl] = await Promise.all([
					get(`/api/v1/workers/${enc(name)}`),
					get(`/api/v1/jobs?worker=${enc(name)}&limit=${RECENT}`),
				]);
				replace(facts,
					h('dt', {}, 'State'), h('dd', { 'data-testid': 'worker-state' }, badge(w.state)),
					h('dt', {}, 'Host'), h('dd', {}, w.host || '—'),
					h('dt', {}, 'Slots'), h('dd', { 'data-testid': 'worker-slots' },
						`${w.slots_busy} used / ${w.slots_free} free of ${w.slots}`),
					h('dt', {}, 'Memory'), h('dd', { 'data-testid': 'worker-memory' },
						w.memory ? `${fmtBytes(w.memory_busy)} used of ${fmtBytes(w.memory)}` : 'not declared'),
					h('dt', {}, 'Data cache'), h('dd', { 'data-testid': 'worker-cache', title: 'artifacts the worker keeps on disk (inputs fetched, outputs written), as it last reported' },
						w.cache ? `${fmtBytes(w.cache.bytes)} in ${w.cache.files} file${w.cache.files === 1 ? '' : 's'}` +
							(w.cache.budget ? ` of ${fmtBytes(w.cache.budget)}` : '') : 'not reported yet'),
					h('dt', {}, 'Last heartbeat'), h('dd', {}, `${fmtDuration(w.heartbeat_age_ms)} ago`),
					h('dt', {}, 'Registered'), h('dd', {}, fmtTime(w.registered_ms)),
					h('dt', {}, 'Tasks done'), h('dd', {}, `${w.tasks_done} (${w.tasks_failed} failed)`));
				replace(beats, (w.heartbeats || []).length ? drawBeats(w.heartbeats) :
					h('p', { class: 'empty' }, 'No heartbeat since the master started.'));
				replace(running, (w.running || []).length ? jobsTable('worker-running', w.running, [
					// A map task is no job: named as in the logs, it links its
					// driver, whose page lists its stages.
					['Job', (j) => (j.map_task ? h('a', { href: `#/jobs/${j.driver}`, 'data-testid': 'worker-map-task' },
						`stage ${j.stage} task ${j.index}`) : link(j))],
					['Plugin', (j) => j.plugin],
					['Attempt', (j) => String(j.attempt)],
					['Running for', (j) => fmtDuration(span(j.started_ms, 0))],
				]) : h('p', { class: 'empty', 'data-testid': 'worker-idle' }, 'Nothing running.'));
				replace(recent, (jl.jobs || []).length ? jobsTable('worker-jobs', jl.jobs, [
					['Job', link],
					['Plugin', (j) => j.plugin],
					['State', (j) => badge(j.state)],
					['Run · task', (j) => (j.run_id ? `${j.run_id} · ${j.task}` : '')],
					['Submitted', (j) => fmtTime(j.created_ms)],
					['Duration', (j) => fmtDuration(span(j.started_ms, j.state === 'running' ? 0 : j.finished_ms))],
				]) : h('p', { class: 'empty' }, 'No job yet.'));
				const errs = w.plugin_errors || [];
				replace(plugins, h('ul', { 'data-testid': 'worker-plugins' },
					(w.plugins || []).map((p) => h('li', {}, `${p.name} ${p.version || ''}`))),
				errs.length ? [h('p', {}, 'Could not load:'), h('ul', {}, errs.map((e) => h('li', {}, `${e.file}: ${e.error}`)))] : null);
			},
		};
	},
};
