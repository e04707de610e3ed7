// SPDX-License-Identifier: MIT
// run.js - one DAG run (#/runs/RUN_ID): its state, kind, logical date,
// conf, when it was created, started (its first task) and ended, how long
// it took, and a Gantt chart of each task's job: the time it waited in the
// queue and the time it ran, on one time axis from the run's creation.
// GET /api/v1/runs/RUN_ID and /api/v1/jobs?run=RUN_ID (the jobs' submitted,
// started and finished times).  It names the version of the DAG file the
// run ran (dagdiff.js), marked and linked to its diff when not current.
// Its notifications (on_failure, on_success, on_retry, deadlines missed:
// docs/pipelines.md) in a table: event, task, target, state, tries.

import { get, enc } from './api.js';
import { versionFact } from './dagdiff.js';
import { h, s, badge, fmtIso, fmtTime, fmtDuration, span, replace, json, stateClass } from './dom.js';

const LIVE = ['queued', 'running'];

/* One bar per task that has a job: queued from submission to start, then
 * running to its end (or now). */
export function drawGantt(tasks, jobs, t0) {
	const LABEL = 160, WIDTH = 560, RH = 24, AXIS = 22;
	const now = Date.now();
	const rows = tasks.map((t) => {
		const j = jobs.get(t.job_id);
		if (!j)
			return { task: t.task, state: t.state };
		const start = j.started_ms > 0 ? j.started_ms : 0;
		const end = j.finished_ms > 0 ? j.finished_ms : (LIVE.includes(j.state) ? now : start);
		return { task: t.task, state: t.state, submitted: j.created_ms, start, end,
			queuedEnd: start || (j.state === 'queued' ? now : j.finished_ms || now) };
	});
	const t1 = Math.max(t0 + 1, ...rows.map((r) => Math.max(r.end || 0, r.queuedEnd || 0)));
	const x = (t) => LABEL + WIDTH * Math.max(0, (t - t0)) / (t1 - t0);
	const height = AXIS + rows.length * RH + 6;
	const svg = s('svg', { viewBox: `0 0 ${LABEL + WIDTH + 80} ${height}`, width: LABEL + WIDTH + 80, height,
		class: 'bars gantt', role: 'img', 'data-testid': 'gantt',
		'aria-label': `Gantt chart of the run's ${rows.length} tasks over ${fmtDuration(t1 - t0)}: queued then running` });
	svg.append(s('text', { x: LABEL, y: 14, class: 'sub' }, '0'),
		s('text', { x: LABEL + WIDTH, y: 14, 'text-anchor': 'end', class: 'sub' }, `+${fmtDuration(t1 - t0)}`));
	rows.forEach((r, i) => {
		const y = AXIS + i * RH;
		const g = s('g', { 'data-testid': 'gantt-row', 'data-task': r.task, 'data-state': r.state },
			s('text', { x: LABEL - 8, y: y + RH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' },
				r.task.length > 22 ? r.task.slice(0, 21) + '…' : r.task));
		if (r.submitted) {
			const qw = Math.max(1, x(r.queuedEnd) - x(r.submitted));
			g.append(s('rect', { x: x(r.submitted), y: y + 4, width: qw, height: RH - 8, class: 'bar gantt-queued',
				'data-testid': 'gantt-queued' }));
			if (r.start) {
				const w = Math.max(2, x(r.end) - x(r.start));
				g.append(s('rect', { x: x(r.start), y: y + 4, width: w, height: RH - 8, rx: 2,
					class: ['bar', stateClass(r.state)], 'data-testid': 'gantt-bar' }));
			}
			g.append(s('text', { x: Math.min(LABEL + WIDTH, x(r.end || r.queuedEnd)) + 6, y: y + RH / 2,
				'dominant-baseline': 'central', class: 'sub' },
			r.start ? fmtDuration(r.end - r.start) : 'queued'));
		} else {
			g.append(s('text', { x: LABEL, y: y + RH / 2, 'dominant-baseline': 'central', class: 'sub' },
				String(r.state || 'none').replace(/_/g, ' ')));
		}
		svg.append(g);
	});
	return svg;
}

export default {
	nav: 'dags',
	title: 'Run',
	mount(root, ctx) {
		const id = ctx.params[0];
		const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/dags' }, 'DAGs'), ' / ');
		const head = h('div', { class: 'title-row' }, h('h1', { 'data-testid': 'run-id' }, id));
		const facts = h('dl', { class: 'stats', 'data-testid': 'run-facts' });
		const conf = h('pre', { class: 'json', 'data-testid': 'run-conf', tabindex: 0 });
		const gantt = h('div', { class: 'scroll', tabindex: 0, 'aria-label': 'Gantt chart' });
		// Sensors between pokes: no job, so no bar; when and why here.
		const sensors = h('section', { 'aria-labelledby': 'sensors-h', 'data-testid': 'run-sensors', hidden: true });
		const notifs = h('section', { 'aria-labelledby': 'notifs-h', 'data-testid': 'run-notifications', hidden: true });
		root.append(crumbs, head, facts, sensors, notifs,
			h('section', { 'aria-labelledby': 'conf-h' }, h('h2', { id: 'conf-h' }, 'Conf'), conf),
			h('section', { 'aria-labelledby': 'gantt-h' }, h('h2', { id: 'gantt-h' }, 'Gantt'),
				h('p', { class: 'sub' }, 'Each task\'s job: grey while it waited in the queue, coloured by state while it ran.'),
				gantt));
		let lastSig = '';
		let live = true;
		return {
			get interval() { return live ? 2000 : 10000; },
			async refresh() {
				const r = await get(`/api/v1/runs/${enc(id)}`);
				const jl = await get(`/api/v1/jobs?run=${enc(id)}&limit=1000`);
				live = LIVE.includes(r.state);
				const sig = JSON.stringify([r, jl.jobs]);
				if (sig === lastSig && !live)
					return;
				lastSig = sig;
				const jobs = new Map((jl.jobs || []).map((j) => [j.id, j]));
				const tasks = r.tasks || [];
				const first = Math.min(...tasks.map((t) => t.started_ms).filter((v) => v > 0));
				const started = Number.isFinite(first) ? first : 0;
				replace(crumbs, h('a', { href: '#/dags' }, 'DAGs'), ' / ',
					h('a', { href: `#/dags/${enc(r.dag_id)}?run=${enc(r.run_id)}`, 'data-testid': 'run-dag' }, r.dag_id), ' / ',
					h('a', { href: `#/dags/${enc(r.dag_id)}/runs` }, 'runs'), ' / ');
				replace(facts,
					h('dt', {}, 'State'), h('dd', { 'data-testid': 'run-state' }, badge(r.state)),
					h('dt', {}, 'Kind'), h('dd', {}, r.kind),
					h('dt', {}, 'DAG version'), versionFact(r.dag_version, r.dag_id),
					h('dt', {}, 'Logical date'), h('dd', {}, fmtIso(r.logical_date)),
					h('dt', {}, 'Created'), h('dd', { 'data-testid': 'run-created' }, fmtTime(r.created_ms)),
					h('dt', {}, 'Started'), h('dd', { 'data-testid': 'run-start' }, started ? fmtTime(started) : '—'),
					h('dt', {}, 'Ended'), h('dd', { 'data-testid': 'run-end' }, r.finished_ms > 0 ? fmtTime(r.finished_ms) : '—'),
					h('dt', {}, 'Duration'), h('dd', { 'data-testid': 'run-duration' },
						fmtDuration(span(r.created_ms, r.finished_ms)) + (live ? ' so far' : '')),
					h('dt', {}, 'Tasks'), h('dd', {}, String(tasks.length)));
				conf.textContent = json(r.conf || {});
				const waiting = tasks.filter((t) => t.state === 'up_for_reschedule');
				sensors.hidden = waiting.length === 0;
				replace(sensors, h('h2', { id: 'sensors-h' }, 'Waiting sensors'),
					h('ul', {}, waiting.map((t) => h('li', { 'data-testid': 'sensor-wait', 'data-task': t.task },
						badge(t.state), ' ', h('strong', {}, t.task), ` next poke ${fmtTime(t.next_poke_ms)}`,
						t.sensor_reason ? ` \u2014 ${t.sensor_reason}` : ''))));
				const nl = r.notifications || [];
				notifs.hidden = nl.length === 0;
				replace(notifs, h('h2', { id: 'notifs-h' }, 'Notifications'),
					h('div', { class: 'scroll', tabindex: 0 }, h('table', {},
						h('thead', {}, h('tr', {}, ['Time', 'Event', 'Task', 'Target', 'State', 'Tries', 'Error']
							.map((c) => h('th', { scope: 'col' }, c)))),
						h('tbody', {}, nl.map((n) => h('tr', { 'data-testid': 'notification', 'data-event': n.event },
							h('td', {}, fmtTime(n.created_ms)),
							h('td', {}, n.event.replace(/_/g, ' ')),
							h('td', {}, n.task ? (n.map_index >= 0 ? `${n.task}[${n.map_index}]` : n.task) : '(run)'),
							h('td', {}, n.kind === 'none' ? '—' : `${n.kind} ${n.target}`),
							h('td', {}, n.state),
							h('td', {}, String(n.attempts)),
							h('td', {}, n.error || '')))))));
				replace(gantt, tasks.length ? drawGantt(tasks, jobs, r.created_ms) : h('p', { class: 'empty' }, 'No task.'));
			},
		};
	},
};
