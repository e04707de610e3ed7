// SPDX-License-Identifier: MIT
// stages.js - the job page's stage view: the distributed stages a driver
// job ran (GET /api/v1/jobs/ID/stages), and each one's map tasks, named
// "stage S task I" as in the master's and workers' logs, with their
// state, worker, attempts, start, duration and whether the worker held
// their data already (locality).  Map tasks are not jobs: this is the one
// place the dashboard shows them.  The master keeps the last 64 stages
// that ended, in memory: a restart forgets them.

import { h, badge, fmtTime, fmtDuration, setText, replace } from './dom.js';

const ROWS = 200;       // map tasks listed per stage; the rest counted

function locality(t) {
	if (t.local === null || t.local === undefined)
		return '—';
	return t.local ? 'local' : 'fetched';
}

function stageTable(st) {
	const tasks = st.tasks || [];
	const shown = tasks.slice(0, ROWS);
	const cap = `Map tasks of stage ${st.stage}`;
	const table = h('table', { 'data-testid': 'stage-tasks' },
		h('caption', { class: 'visually-hidden' }, cap),
		h('thead', {}, h('tr', {}, ['Map task', 'State', 'Worker', 'Attempts', 'Started', 'Duration', 'Data']
			.map((t) => h('th', { scope: 'col' }, t)))),
		h('tbody', {}, shown.map((t) => h('tr', { 'data-testid': 'stage-task', 'data-index': t.index, 'data-state': t.state },
			h('th', { scope: 'row' }, `stage ${st.stage} task ${t.index}`),
			h('td', {}, badge(t.state)),
			h('td', { 'data-testid': 'stage-task-worker' },
				t.worker ? h('a', { href: `#/workers/${encodeURIComponent(t.worker)}` }, t.worker) : '—'),
			h('td', { class: 'num' }, t.attempts),
			h('td', {}, fmtTime(t.started_ms)),
			h('td', { class: 'num' }, t.started_ms ? fmtDuration(t.duration_ms) : '—'),
			h('td', { 'data-testid': 'stage-task-local' }, locality(t))))));
	// A long list scrolls in its own box, which keyboards can reach.
	return h('div', { class: 'scroll stage-box', tabindex: 0, role: 'region', 'aria-label': cap },
		table, tasks.length > ROWS ?
			h('p', { class: 'sub' }, `The first ${ROWS} of ${tasks.length} map tasks.`) : null);
}

function stageSection(st) {
	const n = st.tasks_total;
	const local = (st.tasks || []).filter((t) => t.local === true).length;
	const withData = (st.tasks || []).filter((t) => t.local !== null && t.local !== undefined).length;
	const dur = (st.ended_ms || Date.now()) - st.created_ms;
	return h('section', { class: 'stage', 'data-testid': 'stage', 'data-stage': st.stage, 'aria-labelledby': `stage-${st.stage}-h` },
		h('h3', { id: `stage-${st.stage}-h` }, `Stage ${st.stage} `, badge(st.state, { 'data-testid': 'stage-state' })),
		h('p', { class: 'sub', 'data-testid': 'stage-summary' },
			`${st.tasks_done} of ${n} map task${n === 1 ? '' : 's'} done · ${st.plugin} · attempt ${st.attempt} of the driver · ` +
			`${fmtDuration(dur)}` + (withData ? ` · ${local} of ${withData} ran where their data was` : '')),
		st.error ? h('p', { class: 'error-text' }, st.error) : null,
		stageTable(st));
}

/* The view: {el, update(stages)}; hidden while the job has no stage. */
export function stageView() {
	const count = h('span', { class: 'sub', 'data-testid': 'stages-count' });
	const list = h('div', {});
	const el = h('section', { 'aria-labelledby': 'stages-h', 'data-testid': 'job-stages', hidden: true },
		h('div', { class: 'title-row' }, h('h2', { id: 'stages-h' }, 'Stages'), count), list);
	let last = '';
	return {
		el,
		update(stages) {
			const sig = JSON.stringify(stages);
			if (sig === last)
				return;
			last = sig;
			el.hidden = stages.length === 0;
			const tasks = stages.reduce((a, st) => a + st.tasks_total, 0);
			setText(count, `${stages.length} stage${stages.length === 1 ? '' : 's'}, ${tasks} map task${tasks === 1 ? '' : 's'}`);
			replace(list, stages.map(stageSection));
		},
	};
}
