// SPDX-License-Identifier: MIT
// jobs.js - the job list: filters by state, plugin, DAG, run, worker, job
// id and submission time (kept in the hash, #/jobs?state=failed&dag=etl),
// newest first, one page of PAGE jobs at a time, and how many match.
// Paging is the server's keyset pagination (before=next_before), so the
// page costs the same with ten jobs or ten million; the cursors of the
// pages already seen are kept to go back.  Admins may select rows and
// cancel them at once (POST /api/v1/jobs/cancel).

import { get, post, enc } from './api.js';
import { h, badge, updateBadge, fmtTime, fmtDuration, span, setText, syncRows, replace } from './dom.js';

const PAGE = 50;
const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const LIVE = ['queued', 'running'];
// The text filters: query name, label, input type.
const TEXT_FILTERS = [
	['id', 'Job id', 'search'],
	['dag', 'DAG', 'text'],
	['run', 'Run', 'text'],
	['worker', 'Worker', 'text'],
	['since', 'Submitted from (UTC)', 'datetime-local'],
	['until', 'to', 'datetime-local'],
];

/* "queued, attempt 2 of 3, waiting 15.4 s" for a retry waiting to be
 * placed again; else the attempt as "1 of 3" and the run time. */
function attemptText(j) {
	if (j.state === 'queued' && j.attempt > 0)
		return `attempt ${j.attempt + 1} of ${j.max_attempts}`;
	return `${j.attempt} of ${j.max_attempts}`;
}
function timeText(j) {
	if (j.state === 'queued')
		return j.requeued_ms ? `waiting ${fmtDuration(span(j.requeued_ms, 0))}` :
			`waiting ${fmtDuration(span(j.created_ms, 0))}`;
	return fmtDuration(span(j.started_ms, j.state === 'running' ? 0 : j.finished_ms));
}

/* Ask before cancelling IDS, listing them: true if confirmed. */
function confirmCancel(ids) {
	return new Promise((resolve) => {
		const yes = h('button', { type: 'submit', class: 'primary', 'data-testid': 'cancel-confirm' }, 'Cancel the jobs');
		const no = h('button', { type: 'button', 'data-testid': 'cancel-keep' }, 'Keep them');
		const dlg = h('dialog', { 'data-testid': 'cancel-dialog', 'aria-labelledby': 'cancel-title' },
			h('form', { method: 'dialog' },
				h('h2', { id: 'cancel-title' }, `Cancel ${ids.length} job${ids.length > 1 ? 's' : ''}?`),
				h('ul', {}, ids.map((id) => h('li', { 'data-testid': 'cancel-job' }, `job ${id}`))),
				h('div', { class: 'buttons' }, no, yes)));
		let ok = false;
		no.addEventListener('click', () => dlg.close());
		dlg.addEventListener('submit', (ev) => {
			ev.preventDefault();
			ok = true;
			dlg.close();
		});
		dlg.addEventListener('close', () => {
			dlg.remove();
			resolve(ok);
		});
		document.body.append(dlg);
		dlg.showModal();
	});
}

function jobRow(selected, admin, onSelect) {
	return () => {
		const c = {};
		const el = h('tr', { 'data-testid': 'job-row' },
			admin ? h('td', {}, (c.pick = h('input', { type: 'checkbox', 'data-testid': 'job-select' }))) : null,
			h('th', { scope: 'row', class: 'num' }, (c.link = h('a', { 'data-testid': 'job-link' }))),
			(c.plugin = h('td', { 'data-testid': 'job-plugin' })),
			h('td', {}, (c.dag = h('a', { 'data-testid': 'job-dag' }))),
			h('td', { class: 'sub' }, (c.run = h('a', { 'data-testid': 'job-run' })), (c.task = h('span', {}))),
			h('td', {}, (c.state = badge('queued')), (c.retry = h('span', { class: 'sub', 'data-testid': 'job-retry' }))),
			(c.attempt = h('td', { 'data-testid': 'job-attempt' })),
			(c.worker = h('td', {})),
			(c.created = h('td', {})),
			(c.dur = h('td', { class: 'num', 'data-testid': 'job-time' })));
		let id = 0;
		if (c.pick)
			c.pick.addEventListener('change', () => onSelect(id, c.pick.checked));
		return {
			el,
			update(j) {
				id = j.id;
				el.dataset.job = j.id;
				el.dataset.state = j.state;
				c.link.href = `#/jobs/${j.id}`;
				setText(c.link, j.id);
				setText(c.plugin, j.plugin);
				if (j.dag_id) {
					c.dag.href = `#/dags/${enc(j.dag_id)}`;
					c.run.href = `#/runs/${enc(j.run_id)}`;
				} else {
					c.dag.removeAttribute('href');
					c.run.removeAttribute('href');
				}
				setText(c.dag, j.dag_id || '');
				setText(c.run, j.run_id || '');
				setText(c.task, j.task ? ` · ${j.task}` : '');
				updateBadge(c.state, j.state);
				setText(c.retry, j.state === 'queued' && j.attempt > 0 ? ' retry' : '');
				setText(c.attempt, attemptText(j));
				setText(c.worker, j.worker || '');
				setText(c.created, fmtTime(j.created_ms));
				setText(c.dur, timeText(j));
				if (c.pick) {
					c.pick.disabled = !LIVE.includes(j.state);
					if (c.pick.disabled && selected.has(j.id))
						onSelect(j.id, false);
					c.pick.checked = selected.has(j.id);
					c.pick.setAttribute('aria-label', `select job ${j.id}`);
				}
			},
		};
	};
}

export default {
	nav: 'jobs',
	title: 'Jobs',
	mount(root, ctx) {
		const admin = ctx.me && ctx.me.role === 'admin';
		const state = ctx.query.get('state') || '';
		const plugin = ctx.query.get('plugin') || '';
		const cursors = [null];      // `before` of each page seen; the last is this page
		const selected = new Set();  // ids of the rows an admin checked
		const stateSel = h('select', { id: 'f-state', 'data-testid': 'filter-state' },
			h('option', { value: '' }, 'any'),
			JOB_STATES.map((s) => h('option', { value: s, selected: s === state }, s)));
		const pluginSel = h('select', { id: 'f-plugin', 'data-testid': 'filter-plugin' },
			h('option', { value: '' }, 'any'));
		if (plugin)
			pluginSel.append(h('option', { value: plugin, selected: true }, plugin));
		const inputs = {};
		for (const [name, , type] of TEXT_FILTERS)
			inputs[name] = h('input', { id: `f-${name}`, type, name, 'data-testid': `filter-${name}`,
				value: ctx.query.get(name) || '', size: name === 'id' ? 8 : 14,
				inputmode: name === 'id' ? 'numeric' : null });
		const apply = () => {
			const q = new URLSearchParams();
			if (stateSel.value)
				q.set('state', stateSel.value);
			if (pluginSel.value)
				q.set('plugin', pluginSel.value);
			for (const [name] of TEXT_FILTERS)
				if (inputs[name].value.trim())
					q.set(name, inputs[name].value.trim());
			const qs = q.toString();
			ctx.navigate('#/jobs' + (qs ? '?' + qs : ''));
		};
		stateSel.addEventListener('change', apply);
		pluginSel.addEventListener('change', apply);
		for (const [name, , type] of TEXT_FILTERS)
			if (type === 'datetime-local')
				inputs[name].addEventListener('change', apply);
		const newer = h('button', { type: 'button', 'data-testid': 'page-newer', disabled: true }, '← Newer');
		const older = h('button', { type: 'button', 'data-testid': 'page-older', disabled: true }, 'Older →');
		const where = h('span', { class: 'sub', 'data-testid': 'page-info' });
		const total = h('p', { class: 'sub', 'aria-live': 'polite', 'data-testid': 'jobs-total' });
		const tbody = h('tbody', {});
		const empty = h('p', { class: 'empty', hidden: true, 'data-testid': 'jobs-empty' }, 'No job matches.');
		const cancelSel = h('button', { type: 'button', 'data-testid': 'jobs-cancel', disabled: true }, 'Cancel selected');
		const cancelMsg = h('span', { class: 'sub', role: 'status', 'data-testid': 'jobs-cancel-result' });
		const onSelect = (id, on) => {
			if (on)
				selected.add(id);
			else
				selected.delete(id);
			cancelSel.disabled = selected.size === 0;
			setText(cancelSel, selected.size ? `Cancel ${selected.size} selected` : 'Cancel selected');
		};
		cancelSel.addEventListener('click', async () => {
			const ids = [...selected];
			if (!ids.length || !(await confirmCancel(ids)))
				return;
			try {
				const r = await post('/api/v1/jobs/cancel', { ids });
				ids.forEach((id) => onSelect(id, false));
				setText(cancelMsg, `${r.cancelled.length} cancelled` +
					(r.errors.length ? `; ${r.errors.map((e) => `job ${e.id}: ${e.error}`).join('; ')}` : ''));
				ctx.refreshNow();
			} catch (e) {
				ctx.showError(e.message);
			}
		});
		const heads = ['Job', 'Plugin', 'DAG', 'Run · task', 'State', 'Attempt', 'Worker', 'Submitted', 'Time'];
		root.append(
			h('h1', {}, 'Jobs'),
			h('form', { class: 'filters', role: 'search', 'aria-label': 'filter jobs', 'data-testid': 'jobs-filters',
				onsubmit: (e) => { e.preventDefault(); apply(); } },
				h('label', { for: 'f-state' }, 'State'), stateSel,
				h('label', { for: 'f-plugin' }, 'Plugin'), pluginSel,
				TEXT_FILTERS.map(([name, label]) => [h('label', { for: `f-${name}` }, label), inputs[name]]),
				h('button', { type: 'submit', 'data-testid': 'filter-apply' }, 'Filter')),
			h('div', { class: 'pager' }, total, admin ? cancelSel : null, admin ? cancelMsg : null),
			h('div', { class: 'scroll' }, h('table', { 'data-testid': 'jobs' },
				h('thead', {}, h('tr', {},
					admin ? h('td', {}, h('span', { class: 'sub' }, 'Select')) : null,
					heads.map((t) => h('th', { scope: 'col' }, t)))),
				tbody)),
			empty,
			h('div', { class: 'pager' }, newer, where, older));

		let next = null;
		let loadedPlugins = false;
		async function load() {
			const q = new URLSearchParams({ limit: String(PAGE) });
			for (const name of ['state', 'plugin', ...TEXT_FILTERS.map((f) => f[0])])
				if (ctx.query.get(name))
					q.set(name, ctx.query.get(name));
			const before = cursors[cursors.length - 1];
			if (before !== null)
				q.set('before', String(before));
			const r = await get('/api/v1/jobs?' + q);
			const list = r.jobs || [];
			syncRows(tbody, list, (j) => j.id, jobRow(selected, admin, onSelect));
			empty.hidden = list.length > 0;
			next = r.next_before ?? null;
			older.disabled = next === null;
			newer.disabled = cursors.length === 1;
			const n = r.total ?? list.length;
			total.dataset.total = String(n);
			setText(total, `${r.total_capped ? 'at least ' : ''}${n.toLocaleString('en')} job${n === 1 ? '' : 's'}`);
			setText(where, list.length ? `page ${cursors.length} · jobs ${list[0].id}–${list[list.length - 1].id}` : '');
		}
		older.addEventListener('click', () => {
			if (next === null)
				return;
			cursors.push(next);
			load().catch((e) => ctx.showError(e.message));
		});
		newer.addEventListener('click', () => {
			if (cursors.length > 1)
				cursors.pop();
			load().catch((e) => ctx.showError(e.message));
		});
		return {
			async refresh() {
				if (!loadedPlugins) {
					loadedPlugins = true;
					get('/api/v1/plugins').then((p) => {
						const names = [...new Set((p.plugins || []).map((x) => x.name))].sort();
						replace(pluginSel, h('option', { value: '' }, 'any'),
							[...new Set([...names, ...(plugin ? [plugin] : [])])].map((n) =>
								h('option', { value: n, selected: n === plugin }, n)));
					}).catch(() => {});
				}
				await load();
			},
		};
	},
};
