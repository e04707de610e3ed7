// SPDX-License-Identifier: MIT
// job.js - one job: its params, worker, timings, attempts, result, output
// files and the log of one attempt (#/jobs/ID?attempt=N; the latest by
// default).  While the job is queued or running the page polls every
// 1.5 s and the log tails: GET /api/v1/jobs/ID/log returns what the worker
// has reported so far, and the view stays pinned to the bottom unless the
// reader has scrolled up (logview.js: search, wrap, line numbers,
// download).  The job of a DAG task offers admins the task
// actions (clear, mark success or failed) once it has ended.  A driver
// job lists its distributed stages and their map tasks (stages.js).

import { get, post, getText, enc } from './api.js';
import { h, badge, fmtTime, fmtDuration, fmtBytes, span, json, setText, replace } from './dom.js';
import { taskActions } from './taskactions.js';
import { logView } from './logview.js';
import { stageView } from './stages.js';

const LIVE = ['queued', 'running'];

export default {
	nav: 'jobs',
	title: 'Job',
	mount(root, ctx) {
		const id = ctx.params[0];
		let attempt = Number(ctx.query.get('attempt')) || 0;    // 0: the latest
		const admin = ctx.me.role === 'admin';
		const head = h('div', { class: 'title-row' });
		const actions = h('div', {});
		const facts = h('dl', { class: 'stats', 'data-testid': 'job-facts' });
		const params = h('pre', { class: 'json', 'data-testid': 'job-params' });
		const result = h('pre', { class: 'json', 'data-testid': 'job-result' });
		const errBox = h('pre', { class: 'json error-text', 'data-testid': 'job-error', hidden: true });
		const attBody = h('tbody', {});
		const outputs = h('ul', { 'data-testid': 'job-outputs' });
		const logTitle = h('h2', { id: 'log-h' }, 'Log');
		const logState = h('span', { class: 'sub', 'aria-live': 'polite', 'data-testid': 'log-state' });
		const log = logView({ label: 'log-h', testid: 'job-log' });
		const stages = stageView();
		root.append(
			h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / '),
			head, actions, facts,
			h('div', { class: 'two' },
				h('section', { 'aria-labelledby': 'params-h' }, h('h2', { id: 'params-h' }, 'Params'), params),
				h('section', { 'aria-labelledby': 'result-h' }, h('h2', { id: 'result-h' }, 'Result'), result, errBox)),
			h('section', { 'aria-labelledby': 'att-h' }, h('h2', { id: 'att-h' }, 'Attempts'),
				h('div', { class: 'scroll' }, h('table', { 'data-testid': 'job-attempts' },
					h('thead', {}, h('tr', {}, ['Attempt', 'State', 'Worker', 'Started', 'Finished', 'Duration', 'Error', 'Log']
						.map((t) => h('th', { scope: 'col' }, t)))),
					attBody))),
			h('section', { 'aria-labelledby': 'out-h' }, h('h2', { id: 'out-h' }, 'Outputs'), outputs),
			stages.el,
			h('section', { 'aria-labelledby': 'log-h' }, h('div', { class: 'title-row' }, logTitle, logState), log.el));

		let job = null;
		let lastHead = '', lastBody = '', lastLog = null, logFor = -1;

		function showAttempt(n) {
			attempt = n;
			history.replaceState(null, '', `#/jobs/${id}?attempt=${n}`);
			lastBody = '';
			lastLog = null;
			return refresh();
		}

		function drawHead() {
			const sig = job.state + admin;
			if (sig === lastHead)
				return;
			lastHead = sig;
			const parts = [h('h1', { 'data-testid': 'job-id' }, `Job ${job.id}`), ' ',
				badge(job.state, { 'data-testid': 'job-state' })];
			if (admin && LIVE.includes(job.state)) {
				const b = h('button', { type: 'button', class: 'danger', 'data-testid': 'job-cancel' }, 'Cancel');
				b.addEventListener('click', async () => {
					b.disabled = true;
					try {
						await post(`/api/v1/jobs/${id}/cancel`, {});
						await refresh();
					} catch (e) {
						ctx.showError(e.message);
						b.disabled = false;
					}
				});
				parts.push(b);
			}
			const hadFocus = head.contains(document.activeElement);
			replace(head, parts);
			replace(actions, admin && job.run_id && job.task && !LIVE.includes(job.state) ?
				[h('span', { class: 'sub' }, `Task ${job.task} of run ${job.run_id}:`),
					taskActions(job.run_id, job.task, () => refresh().catch((e) => ctx.showError(e.message)),
						ctx.showError)] : null);
			if (hadFocus)
				head.querySelector('h1').focus({ preventScroll: true });
		}

		function drawBody() {
			const sig = JSON.stringify(job) + attempt;
			if (sig === lastBody)
				return;
			lastBody = sig;
			const live = LIVE.includes(job.state);
			const dd = (label, value, testid) => [h('dt', {}, label), h('dd', { 'data-testid': testid }, value)];
			replace(facts,
				dd('Plugin', job.plugin, 'job-plugin'),
				job.task ? dd('DAG task', job.task, 'job-task') : null,
				job.run_id ? dd('Run', h('a', { href: `#/runs/${enc(job.run_id)}` }, job.run_id), 'job-run') : null,
				dd('Worker', job.worker ? h('a', { href: `#/workers/${enc(job.worker)}` }, job.worker) : '—', 'job-worker'),
				dd('Attempt', job.state === 'queued' && job.attempt > 0 ?
					`${job.attempt} of ${job.max_attempts} done; attempt ${job.attempt + 1} waits to retry` :
					`${job.attempt} of ${job.max_attempts}`, 'job-attempt'),
				dd('Priority', job.priority),
				dd('Slots', job.slots),
				dd('Memory', job.memory ? fmtBytes(job.memory) : 'any'),
				dd('Timeout', job.timeout_ms ? fmtDuration(job.timeout_ms) : 'none'),
				dd('Created', fmtTime(job.created_ms)),
				dd('Started', fmtTime(job.started_ms)),
				dd('Finished', fmtTime(job.finished_ms)),
				dd('Waited', fmtDuration(span(job.created_ms, job.started_ms > 0 ? job.started_ms : 0))),
				dd('Ran', fmtDuration(span(job.started_ms, live ? 0 : job.finished_ms)), 'job-duration'));
			setText(params, json(job.params ?? {}));
			setText(result, job.result === null || job.result === undefined ? '—' : json(job.result));
			errBox.hidden = !job.error;
			setText(errBox, job.error || '');
			const atts = job.attempts || [];
			const shown = attempt || job.attempt;
			replace(attBody, atts.length ? atts.map((a) => {
				const b = h('button', { type: 'button', class: 'link', 'data-testid': 'attempt-log',
					'aria-pressed': a.attempt === shown ? 'true' : 'false' }, `log ${a.attempt}`);
				b.addEventListener('click', () => showAttempt(a.attempt).catch((e) => ctx.showError(e.message)));
				return h('tr', { 'data-testid': 'attempt-row', 'data-attempt': a.attempt, class: a.attempt === shown ? 'selected' : null },
					h('th', { scope: 'row', class: 'num' }, a.attempt),
					h('td', {}, badge(a.state)),
					h('td', {}, a.worker || ''),
					h('td', {}, fmtTime(a.started_ms)),
					h('td', {}, fmtTime(a.finished_ms)),
					h('td', { class: 'num' }, fmtDuration(span(a.started_ms, a.finished_ms > 0 ? a.finished_ms : (a.state === 'running' ? 0 : a.started_ms)))),
					h('td', { class: 'error-text' }, a.error || ''),
					h('td', {}, b));
			}) : h('tr', {}, h('td', { colspan: 8, class: 'empty' }, 'Not started yet.')));
			const outs = job.outputs || [];
			replace(outputs, outs.length ? outs.map((o) => h('li', { 'data-testid': 'job-output' },
				h('a', { href: `/api/v1/artifacts/${enc(o.sha)}`, download: o.name || o.sha }, o.name || o.sha),
				' ', h('span', { class: 'sub' }, `${fmtBytes(o.size)} · sha256 ${String(o.sha).slice(0, 12)}…`))) :
				h('li', { class: 'empty' }, 'No output files.'));
		}

		async function drawLog() {
			const n = attempt || job.attempt;
			setText(logTitle, n ? `Log of attempt ${n}` : 'Log');
			if (!n) {
				log.show('');
				setText(logState, 'the job has not started');
				return;
			}
			const live = LIVE.includes(job.state) && n === job.attempt;
			let text;
			try {
				text = await getText(`/api/v1/jobs/${id}/log?attempt=${n}`);
			} catch (e) {
				if (e.status !== 404)
					throw e;
				text = '';
			}
			setText(logState, live ? 'live: following the worker' : '');
			if (text === lastLog && logFor === n)
				return;
			lastLog = text;
			logFor = n;
			log.setFile(`job-${id}-attempt-${n}.log`);
			log.show(text, live ? '(no output yet)' : '(empty log)');
		}

		async function refresh() {
			job = await get(`/api/v1/jobs/${id}`);
			drawHead();
			drawBody();
			// Only a started job can have run stages.
			if (job.attempt > 0 || job.state === 'running')
				stages.update((await get(`/api/v1/jobs/${id}/stages`)).stages || []);
			await drawLog();
			inst.interval = LIVE.includes(job.state) ? 1500 : 2000;
		}

		const inst = { refresh, interval: 1500, unmount: () => log.close() };
		return inst;
	},
};
