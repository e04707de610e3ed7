// SPDX-License-Identifier: MIT
// dag.js - one DAG: the Airflow-like grid (runs as columns, tasks as rows,
// each cell a task instance coloured by its state; choosing it opens a
// popup with the log of the attempt it stands for and, for admins, the
// task actions of taskactions.js; a mapped task's cell shows how many
// instances it has, and its popup lists them),
// the task graph coloured by the selected run, and the durations of that
// run's tasks.  GET /api/v1/dags/ID and /api/v1/dags/ID/grid.
//
// The grid (grid.js) draws only what is in view, from the compact grid
// (?compact=1: a character per task instance's state).  The page polls it
// as changes: the first answer is whole and carries a cursor; each poll
// after asks for the runs changed since it (?since=CURSOR), which is the
// same empty answer, and so a 304, while nothing changes.  The whole grid
// is fetched again when the DAG's version changes.  The selected run's
// task instances in full (GET /api/v1/runs/RUN: jobs, times, for the
// graph's links and the durations) are fetched when it is chosen or
// changes; a cell of another run fetches its run when opened.  The DAG
// document is fetched again when the grid changed, and every DOC_MS.  The
// poll slows from 2 s to 4 s while nothing changes and no run is active.
//
// The selected run is in the hash (#/dags/ID?run=RUN_ID) so that it
// survives a reload and can be linked to; without it the newest run is
// shown.

import { versionFact } from './dagdiff.js';
import { get, enc } from './api.js';
import { h, badge, fmtIso, fmtDuration, span, replace } from './dom.js';
import { makeGrid } from './grid.js';
import { makeGraph, drawDurations } from './graph.js';
import { openTrigger } from './trigger.js';
import { openTaskPopup } from './taskactions.js';

/* Runs in the grid; and how many of the selected run's tasks the
 * durations chart shows (the longest). */
const RUNS = 100;
const BARS = 30;
const DOC_MS = 15000;
const QUIET_MS = 10000;

/* A run's task instances from GET /api/v1/runs/RUN as the grid's cells:
 * {task: {state, job_id, tries, attempt, started_ms, finished_ms, map?}}. */
function cellsOf(run) {
	const out = {};
	for (const t of run.tasks || []) {
		if (t.map_index < 0) {
			out[t.task] = { ...t };
			continue;
		}
		const c = out[t.task];
		if (!c)
			continue;
		const m = c.map || (c.map = { count: 0, states: {}, instances: [] });
		m.count++;
		m.states[t.state] = (m.states[t.state] || 0) + 1;
		m.instances.push({ map_index: t.map_index, state: t.state, job_id: t.job_id });
	}
	return out;
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
		const gridBox = h('div', {});
		const gv = makeGrid({
			onSelect: (rid) => {
				selected = rid;
				history.replaceState(null, '', `#/dags/${enc(id)}?run=${enc(rid)}`);
				render();
				fetchDetail().then(render, (e) => ctx.showError(e.message));
			},
			onCell: async (run, task, ti) => {
				try {
					const cells = run === selected && detail ? detail :
						cellsOf(await get(`/api/v1/runs/${enc(run)}`));
					ti = { ...ti, ...(cells[task] || {}) };
				} catch (e) {
					ctx.showError(e.message);
				}
				openTaskPopup({ run, task, ti, admin,
					onDone: () => { lastSig = ''; ctx.refreshNow(); }, onError: () => {} });
			},
		});
		const graph = makeGraph();
		const graphBox = h('div', {}, graph.el);
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
				h('p', { class: 'sub' }, `The last ${RUNS} runs, oldest first. Choose a run's header to select it; a cell opens the task's log and, for admins, its actions; the arrow keys move between cells. `,
					h('a', { href: `#/dags/${enc(id)}/runs`, 'data-testid': 'all-runs' }, 'All runs')),
				gridBox),
			h('section', { 'aria-labelledby': 'graph-h' }, h('h2', { id: 'graph-h' }, 'Graph'), runInfo, graphBox),
			h('section', { 'aria-labelledby': 'dur-h' }, h('h2', { id: 'dur-h' }, 'Durations'), durBox),
			legend());
		let lastSig = '';
		let grid = null;       // {tasks, deps, runs, cursor, from, codes, cell()}, merged from the polls
		let shape = null;      // the DAG version the grid was fetched for
		let detail = null, detailOf = null;   // the selected run's cells, and for which run and change
		let doc = null, docAt = 0;
		let quietSince = Date.now();   // the last change seen, or run active

		/* A cell of the compact grid. */
		function cell(r, i, t) {
			const x = r.extra && r.extra[t];
			return x || { state: grid.codes[r.states.charCodeAt(i) - 48] || 'none' };
		}

		function render() {
			const runs = grid.runs || [];
			if (!runs.some((r) => r.run_id === selected))
				selected = runs.length ? runs[runs.length - 1].run_id : null;
			const run = runs.find((r) => r.run_id === selected);
			if (runs.length) {
				if (gv.el.parentNode !== gridBox)
					replace(gridBox, gv.el);
				gv.set(grid, selected);
			} else {
				replace(gridBox, h('p', { class: 'empty' }, 'No run yet.'));
			}
			const tis = run && detail && detailOf && detailOf.run === run.run_id ? detail : {};
			const states = {};
			if (run)
				grid.tasks.forEach((t, i) => { states[t] = cell(run, i, t).state; });
			replace(runInfo, run ? [badge(run.state), ' ', h('code', {}, run.run_id), ' ',
				h('span', { class: 'sub' }, `${run.kind} · ${fmtIso(run.logical_date)}`), ' ',
				h('a', { href: `#/runs/${enc(run.run_id)}`, 'data-testid': 'run-details' }, 'Run details')] :
				'No run selected.');
			graph.set(grid.tasks, grid.deps || {}, states,
				(t) => (tis[t] && tis[t].job_id > 0 ? `#/jobs/${tis[t].job_id}` : null));
			let rows = grid.tasks.map((t) => {
				const ti = tis[t] || {};
				const ms = span(ti.started_ms, ti.finished_ms);
				return { task: t, state: states[t], ms,
					label: ms === null ? states[t].replace(/_/g, ' ') : fmtDuration(ms) };
			});
			// A big DAG shows its longest tasks (the run's page has them all).
			const all = rows.length;
			if (all > BARS)
				rows = rows.map((r, i) => [r, i]).sort((a, b) => ((b[0].ms || 0) - (a[0].ms || 0)) || (a[1] - b[1]))
					.slice(0, BARS).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
			replace(durBox, run ? [all > BARS ? h('p', { class: 'sub', 'data-testid': 'durations-note' },
				`The ${BARS} longest of ${all} tasks; `, h('a', { href: `#/runs/${enc(run.run_id)}` }, 'the run\'s page'), ' has them all.') : null,
			drawDurations(rows)] : h('p', { class: 'empty' }, 'No run selected.'));
		}

		/* The grid, whole or as the runs changed since the last cursor,
		 * merged into `grid`; true when anything changed. */
		const shapeOf = (d) => JSON.stringify(d.dag_version ?? null) + ' ' + d.tasks;
		async function fetchGrid(d) {
			const q = `/api/v1/dags/${enc(id)}/grid?limit=${RUNS}&compact=1`;
			if (!grid || shapeOf(d) !== shape) {
				const g = await get(q);
				grid = { ...g, runs: [...g.runs], cell };
				shape = shapeOf(d);
				return true;
			}
			const g = await get(`${q}&since=${grid.cursor}`);
			if (g.cursor === grid.cursor && g.from === grid.from && !g.runs.length)
				return false;
			const byId = new Map(grid.runs.filter((r) => r.id >= g.from).map((r) => [r.id, r]));
			for (const r of g.runs)
				byId.set(r.id, r);
			grid = { ...grid, runs: [...byId.values()].sort((a, b) => a.id - b.id), cursor: g.cursor, from: g.from };
			return true;
		}

		/* The selected run's cells in full, fetched again only when it
		 * changed (its change in the grid) or another run is chosen. */
		async function fetchDetail() {
			const run = grid.runs.find((r) => r.run_id === selected) ||
				(grid.runs.length ? grid.runs[grid.runs.length - 1] : null);
			if (!run || (detailOf && detailOf.run === run.run_id && detailOf.r === run))
				return false;
			detail = cellsOf(await get(`/api/v1/runs/${enc(run.run_id)}`));
			detailOf = { run: run.run_id, r: run };
			return true;
		}

		return {
			/* Every 2 s, every 4 s once nothing changed for QUIET_MS. */
			get interval() {
				return Date.now() - quietSince > QUIET_MS ? 4000 : 2000;
			},
			unmount() {
				gv.stop();
			},
			async refresh() {
				const docPath = `/api/v1/dags/${enc(id)}`;
				let changed;
				if (!doc) {            // the first time, both at once
					[doc, changed] = await Promise.all([get(docPath), fetchGrid({})]);
					shape = shapeOf(doc);
					docAt = Date.now();
				} else {
					const fresh = Date.now() - docAt > DOC_MS;
					if (fresh) {
						doc = await get(docPath);
						docAt = Date.now();
					}
					changed = await fetchGrid(doc);
					if (changed && !fresh) {
						doc = await get(docPath);
						docAt = Date.now();
					}
				}
				const d = doc;
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
				const running = grid.runs.some((r) => r.state === 'running' || r.state === 'queued');
				if (changed || running)
					quietSince = Date.now();
				const sig = `${grid.cursor} ${grid.from} ${selected}`;
				if (changed || sig !== lastSig || running) {
					lastSig = sig;
					render();
				}
				// The selected run in full after the grid is drawn.
				if (await fetchDetail())
					render();
			},
		};
	},
};

function legend() {
	const states = ['success', 'running', 'queued', 'up_for_retry', 'up_for_reschedule', 'failed', 'upstream_failed', 'skipped', 'none'];
	return h('section', { class: 'legend', 'aria-label': 'state colours' },
		states.map((st) => [badge(st), ' ']));
}
