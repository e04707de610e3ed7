// SPDX-License-Identifier: MIT
// dag.js - one DAG: the Airflow-like grid (runs as columns, tasks as rows,
// each cell a task instance coloured by its state; choosing it opens a
// popup with the log of the attempt it stands for and, for admins, the
// task actions of taskactions.js; a mapped task's cell shows how many
// instances it has, and its popup lists them),
// the task graph coloured by the selected run, and the durations of that
// run's tasks.  GET /api/v1/dags/ID and /api/v1/dags/ID/grid.
//
// The selected run is in the hash (#/dags/ID?run=RUN_ID) so that it
// survives a reload and can be linked to; without it the newest run is
// shown.

import { versionFact } from './dagdiff.js';
import { get, enc } from './api.js';
import { h, badge, fmtIso, fmtTime, fmtDuration, span, replace, stateClass } from './dom.js';
import { drawGraph, drawDurations } from './graph.js';
import { openTrigger } from './trigger.js';
import { openTaskPopup } from './taskactions.js';

const RUNS = 25;

function gridTable(grid, selected, onSelect, onCell) {
	const head = h('tr', {}, h('th', { scope: 'col', class: 'corner' }, 'task \\ run'));
	for (const r of grid.runs) {
		const sel = r.run_id === selected;
		const b = h('button', { type: 'button', class: ['run-head', stateClass(r.state), sel && 'selected'],
			'data-testid': 'grid-run', 'data-run': r.run_id, 'data-state': r.state,
			'aria-pressed': sel ? 'true' : 'false',
			'aria-label': `run ${r.run_id}: ${r.state}`, title: `${r.run_id}\n${r.kind} · ${fmtIso(r.logical_date)} · ${r.state}` });
		b.addEventListener('click', () => onSelect(r.run_id));
		head.append(h('th', { scope: 'col', class: sel ? 'selected' : null }, b));
	}
	const body = h('tbody', {});
	for (const t of grid.tasks) {
		const tr = h('tr', {}, h('th', { scope: 'row', class: 'task' }, t));
		for (const r of grid.runs) {
			const ti = (r.tis || {})[t] || { state: 'none' };
			const st = ti.state || 'none';
			// A mapped task's cell sums up its instances (ti.map).
			const label = `${t} in ${r.run_id}: ${st.replace(/_/g, ' ')}` +
				(ti.tries > 1 ? `, ${ti.tries} tries` : '') +
				(ti.next_poke_ms ? `, next poke ${fmtTime(ti.next_poke_ms)}` : '') + (ti.map ? `, ${ti.map.count} mapped instances (` +
				Object.entries(ti.map.states).map(([s, n]) => `${n} ${s.replace(/_/g, ' ')}`).join(', ') + ')' : '');
			const attrs = { class: ['cell', stateClass(st), ti.map && 'mapped'], 'data-testid': 'grid-cell', 'data-task': t,
				'data-run': r.run_id, 'data-state': st, title: label, 'aria-label': label };
			const cell = h('button', { ...attrs, type: 'button' }, ti.map ? String(ti.map.count) : null);
			cell.addEventListener('click', () => onCell(r.run_id, t, ti));
			tr.append(h('td', { class: r.run_id === selected ? 'selected' : null }, cell));
		}
		body.append(tr);
	}
	return h('table', { class: 'grid', 'data-testid': 'dag-grid' }, h('thead', {}, head), body);
}

export default {
	nav: 'dags',
	title: 'DAG',
	mount(root, ctx) {
		const id = ctx.params[0];
		let selected = ctx.query.get('run');
		const admin = ctx.me.role === 'admin';
		const desc = h('p', { class: 'lead', 'data-testid': 'dag-description' });
		const summary = h('dl', { class: 'stats', 'data-testid': 'dag-summary' });
		const gridBox = h('div', { class: 'scroll grid-box' });
		const graphBox = h('div', { class: 'scroll' });
		const durBox = h('div', { class: 'scroll' });
		const runInfo = h('p', { 'data-testid': 'selected-run' });
		const trig = admin ? h('button', { type: 'button', class: 'primary', 'data-testid': 'dag-trigger' }, 'Trigger') : null;
		if (trig)
			trig.addEventListener('click', () => openTrigger(id, (run) => {
				selected = run;
				ctx.navigate(`#/dags/${enc(id)}?run=${enc(run)}`);
			}).catch((e) => ctx.showError(e.message)));
		root.append(
			h('p', { class: 'crumbs' }, h('a', { href: '#/dags' }, 'DAGs'), ' / '),
			h('div', { class: 'title-row' }, h('h1', { 'data-testid': 'dag-id' }, id), trig),
			desc,
			summary,
			h('section', { 'aria-labelledby': 'grid-h' }, h('h2', { id: 'grid-h' }, 'Grid'),
				h('p', { class: 'sub' }, `The last ${RUNS} runs, oldest first. Choose a run's header to select it; a cell opens the task's log and, for admins, its actions. `,
					h('a', { href: `#/dags/${enc(id)}/runs`, 'data-testid': 'all-runs' }, 'All runs')),
				gridBox),
			h('section', { 'aria-labelledby': 'graph-h' }, h('h2', { id: 'graph-h' }, 'Graph'), runInfo, graphBox),
			h('section', { 'aria-labelledby': 'dur-h' }, h('h2', { id: 'dur-h' }, 'Durations'), durBox),
			legend());
		let lastSig = '';
		let grid = null;

		function render() {
			// Redrawing replaces the elements: keep keyboard focus on the
			// same cell or run header.
			const f = document.activeElement;
			const keep = f && f.dataset && f.dataset.testid && root.contains(f) ?
				`[data-testid="${f.dataset.testid}"][data-run="${CSS.escape(f.dataset.run || '')}"]` +
				(f.dataset.task ? `[data-task="${CSS.escape(f.dataset.task)}"]` : '') : null;
			draw();
			const again = keep && root.querySelector(keep);
			if (again)
				again.focus({ preventScroll: true });
		}

		function draw() {
			const runs = grid.runs || [];
			if (!runs.some((r) => r.run_id === selected))
				selected = runs.length ? runs[runs.length - 1].run_id : null;
			const run = runs.find((r) => r.run_id === selected);
			replace(gridBox, runs.length ? gridTable(grid, selected, (rid) => {
				selected = rid;
				history.replaceState(null, '', `#/dags/${enc(id)}?run=${enc(rid)}`);
				render();
			}, (run, task, ti) => openTaskPopup({ run, task, ti, admin,
				onDone: () => { lastSig = ''; ctx.refreshNow(); }, onError: () => {} })) :
				h('p', { class: 'empty' }, 'No run yet.'));
			const tis = run ? run.tis || {} : {};
			const states = {};
			for (const t of grid.tasks)
				states[t] = (tis[t] || {}).state || 'none';
			replace(runInfo, run ? [badge(run.state), ' ', h('code', {}, run.run_id), ' ',
				h('span', { class: 'sub' }, `${run.kind} · ${fmtIso(run.logical_date)}`), ' ',
				h('a', { href: `#/runs/${enc(run.run_id)}`, 'data-testid': 'run-details' }, 'Run details')] :
				'No run selected.');
			replace(graphBox, drawGraph(grid.tasks, grid.deps || {}, states,
				(t) => (tis[t] && tis[t].job_id > 0 ? `#/jobs/${tis[t].job_id}` : null)));
			const rows = grid.tasks.map((t) => {
				const ti = tis[t] || {};
				const ms = span(ti.started_ms, ti.finished_ms);
				return { task: t, state: ti.state || 'none', ms,
					label: ms === null ? (ti.state || 'none').replace(/_/g, ' ') : fmtDuration(ms) };
			});
			replace(durBox, run ? drawDurations(rows) : h('p', { class: 'empty' }, 'No run selected.'));
		}

		return {
			async refresh() {
				const [d, g] = await Promise.all([
					get(`/api/v1/dags/${enc(id)}`),
					get(`/api/v1/dags/${enc(id)}/grid?limit=${RUNS}`),
				]);
				desc.textContent = d.description || '';
				desc.title = d.file || '';
				replace(summary,
					h('dt', {}, 'Schedule'), h('dd', {}, d.schedule || 'manual'),
					h('dt', {}, 'Paused'), h('dd', { 'data-testid': 'dag-paused' }, d.paused ? 'yes' : 'no'),
					h('dt', {}, 'Next run'), h('dd', {}, d.paused || !d.next_run ? '—' : fmtIso(d.next_run)),
					h('dt', {}, 'Active runs'), h('dd', {}, d.active_runs ?? ''),
					h('dt', {}, 'Tasks'), h('dd', {}, d.tasks ?? (d.task_list || []).length),
					h('dt', {}, 'Catch-up'), h('dd', {}, d.catchup ? 'yes' : 'no'),
					h('dt', {}, 'Version'), versionFact(d.dag_version, id));
				// Running tasks' durations grow, so a run with running
				// tasks always redraws; otherwise only on change.
				const running = (g.runs || []).some((r) => r.state === 'running' || r.state === 'queued');
				const sig = JSON.stringify(g) + selected;
				if (sig !== lastSig || running) {
					lastSig = sig;
					grid = g;
					render();
				}
			},
		};
	},
};

function legend() {
	const states = ['success', 'running', 'queued', 'up_for_retry', 'up_for_reschedule', 'failed', 'upstream_failed', 'skipped', 'none'];
	return h('section', { class: 'legend', 'aria-label': 'state colours' },
		states.map((st) => [badge(st), ' ']));
}
