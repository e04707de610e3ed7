// SPDX-License-Identifier: MIT
// taskactions.js - Airflow's task instance actions, shared by the grid's
// task popup and a job's page: clear (alone or with downstream), mark
// success, mark failed.  Admins only (the page shows no button to others
// and the API answers them 403).  Each action first asks the API what it
// would change (dry_run) and lists those task instances in a confirmation
// dialog; only "Confirm" changes anything.
// POST /api/v1/runs/RUN/tasks/TASK/clear and .../mark.

import { post, enc } from './api.js';
import { h, setText } from './dom.js';

const ACTIONS = [
	{ id: 'clear', label: 'Clear', verb: 'clear', body: { downstream: false } },
	{ id: 'clear-downstream', label: 'Clear with downstream', verb: 'clear', body: { downstream: true } },
	{ id: 'mark-success', label: 'Mark success', verb: 'mark', body: { state: 'success' } },
	{ id: 'mark-failed', label: 'Mark failed', verb: 'mark', body: { state: 'failed' }, danger: true },
];

function confirmDialog(title, tasks, run) {
	return new Promise((resolve) => {
		const ok = h('button', { type: 'submit', class: 'primary', 'data-testid': 'action-confirm' }, 'Confirm');
		const no = h('button', { type: 'button', 'data-testid': 'action-cancel' }, 'Cancel');
		const dlg = h('dialog', { 'data-testid': 'action-dialog', 'aria-labelledby': 'action-title' },
			h('form', { method: 'dialog' },
				h('h2', { id: 'action-title' }, title),
				h('p', {}, `These task instances of run ${run} change:`),
				h('ul', {}, tasks.map((t) => h('li', { 'data-testid': 'action-task' }, t))),
				h('div', { class: 'buttons' }, no, ok)));
		let yes = false;
		no.addEventListener('click', () => dlg.close());
		dlg.addEventListener('submit', (ev) => {
			ev.preventDefault();
			yes = true;
			dlg.close();
		});
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(yes);
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

/* The buttons for TASK of RUN; onDone() after a change, onError(message). */
export function taskActions(run, task, onDone, onError) {
	const path = (verb) => `/api/v1/runs/${enc(run)}/tasks/${enc(task)}/${verb}`;
	const box = h('div', { class: 'actions', 'data-testid': 'task-actions' });
	for (const a of ACTIONS) {
		const b = h('button', { type: 'button', class: a.danger ? 'danger' : null, 'data-testid': `action-${a.id}` }, a.label);
		b.addEventListener('click', async () => {
			b.disabled = true;
			try {
				const dry = await post(path(a.verb), { ...a.body, dry_run: true });
				if (await confirmDialog(`${a.label}: ${task}?`, dry.tasks || [], run)) {
					await post(path(a.verb), a.body);
					onDone();
				}
			} catch (e) {
				onError(e.message);
			} finally {
				b.disabled = false;
			}
		});
		box.append(b);
	}
	return box;
}

/* A mapped task's instances (the grid's ti.map), each a link to its job. */
function mapList(map) {
	const counts = Object.entries(map.states).map(([s, n]) => `${n} ${s.replace(/_/g, ' ')}`).join(', ');
	return [h('p', { 'data-testid': 'ti-map' }, `${map.count} mapped instances: ${counts}`),
		h('ol', { class: 'map-list', start: 0, 'data-testid': 'ti-map-list' }, map.instances.map((m) =>
			h('li', { value: m.map_index }, m.job_id > 0 ? h('a', { href: `#/jobs/${m.job_id}` },
				`[${m.map_index}] ${m.state.replace(/_/g, ' ')} · job ${m.job_id}`) :
				`[${m.map_index}] ${m.state.replace(/_/g, ' ')}`)))];
}

/* The grid's task popup: the task instance's state, a link to the log of
 * the attempt it stands for (for a mapped task, the list of its
 * instances), and (for admins) the actions. */
export function openTaskPopup({ run, task, ti, admin, onDone, onError }) {
	const st = (ti.state || 'none').replace(/_/g, ' ');
	const close = h('button', { type: 'button', 'data-testid': 'ti-close' }, 'Close');
	const msg = h('p', { class: 'form-error', role: 'alert', hidden: true });
	const dlg = h('dialog', { 'data-testid': 'ti-dialog', 'aria-labelledby': 'ti-title' },
		h('h2', { id: 'ti-title' }, `${task} in ${run}`),
		h('p', {}, `State: ${st}` + (ti.tries > 1 ? ` · ${ti.tries} jobs` : '')),
		ti.map ? mapList(ti.map) : ti.job_id > 0 ? h('p', {}, h('a', { 'data-testid': 'ti-log',
			href: `#/jobs/${ti.job_id}${ti.attempt > 0 ? `?attempt=${ti.attempt}` : ''}` },
		`Open job ${ti.job_id}` + (ti.attempt > 0 ? `, the log of attempt ${ti.attempt}` : ''))) :
			h('p', { class: 'sub' }, 'Not run yet.'),
		admin ? taskActions(run, task, () => {
			dlg.close();
			onDone();
		}, (m) => {
			setText(msg, m);
			msg.hidden = false;
			onError(m);
		}) : null,
		msg,
		h('div', { class: 'buttons' }, close));
	close.addEventListener('click', () => dlg.close());
	// Following the log link leaves the page: the dialog goes with it.
	dlg.addEventListener('click', (ev) => {
		if (ev.target.closest && ev.target.closest('a'))
			dlg.close();
	});
	dlg.addEventListener('close', () => dlg.remove());
	document.body.append(dlg);
	dlg.showModal();
	return dlg;
}
