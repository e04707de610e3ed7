// SPDX-License-Identifier: MIT
// jobs.js - the job list: filters by state and plugin (kept in the hash,
// #/jobs?state=failed&plugin=sleep), newest first, one page of PAGE jobs at
// a time.  Paging is the server's keyset pagination (before=next_before), so
// the page costs the same with ten jobs or ten million; the cursors of the
// pages already seen are kept to go back.

import { get } from './api.js';
import { h, badge, updateBadge, fmtTime, fmtDuration, span, setText, syncRows, replace } from './dom.js';

const PAGE = 50;
const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

function jobRow() {
	const c = {};
	const el = h('tr', { 'data-testid': 'job-row' },
		h('th', { scope: 'row', class: 'num' }, (c.link = h('a', { 'data-testid': 'job-link' }))),
		(c.plugin = h('td', {})),
		(c.task = h('td', { class: 'sub' })),
		h('td', {}, (c.state = badge('queued'))),
		(c.attempt = h('td', { class: 'num' })),
		(c.worker = h('td', {})),
		(c.created = h('td', {})),
		(c.dur = h('td', { class: 'num' })));
	return {
		el,
		update(j) {
			el.dataset.job = j.id;
			c.link.href = `#/jobs/${j.id}`;
			setText(c.link, j.id);
			setText(c.plugin, j.plugin);
			setText(c.task, j.task || '');
			updateBadge(c.state, j.state);
			setText(c.attempt, `${j.attempt}/${j.max_attempts}`);
			setText(c.worker, j.worker || '');
			setText(c.created, fmtTime(j.created_ms));
			setText(c.dur, fmtDuration(span(j.started_ms, j.state === 'running' ? 0 : j.finished_ms)));
		},
	};
}

export default {
	nav: 'jobs',
	title: 'Jobs',
	mount(root, ctx) {
		const state = ctx.query.get('state') || '';
		const plugin = ctx.query.get('plugin') || '';
		const cursors = [null];      // `before` of each page seen; the last is this page
		const stateSel = h('select', { id: 'f-state', 'data-testid': 'filter-state' },
			h('option', { value: '' }, 'any'),
			JOB_STATES.map((s) => h('option', { value: s, selected: s === state }, s)));
		const pluginSel = h('select', { id: 'f-plugin', 'data-testid': 'filter-plugin' },
			h('option', { value: '' }, 'any'));
		if (plugin)
			pluginSel.append(h('option', { value: plugin, selected: true }, plugin));
		const apply = () => {
			const q = new URLSearchParams();
			if (stateSel.value)
				q.set('state', stateSel.value);
			if (pluginSel.value)
				q.set('plugin', pluginSel.value);
			const qs = q.toString();
			ctx.navigate('#/jobs' + (qs ? '?' + qs : ''));
		};
		stateSel.addEventListener('change', apply);
		pluginSel.addEventListener('change', apply);
		const newer = h('button', { type: 'button', 'data-testid': 'page-newer', disabled: true }, '← Newer');
		const older = h('button', { type: 'button', 'data-testid': 'page-older', disabled: true }, 'Older →');
		const where = h('span', { class: 'sub', 'aria-live': 'polite', 'data-testid': 'page-info' });
		const tbody = h('tbody', {});
		const empty = h('p', { class: 'empty', hidden: true, 'data-testid': 'jobs-empty' }, 'No job matches.');
		root.append(
			h('h1', {}, 'Jobs'),
			h('form', { class: 'filters', role: 'search', 'aria-label': 'filter jobs', onsubmit: (e) => e.preventDefault() },
				h('label', { for: 'f-state' }, 'State'), stateSel,
				h('label', { for: 'f-plugin' }, 'Plugin'), pluginSel),
			h('div', { class: 'scroll' }, h('table', { 'data-testid': 'jobs' },
				h('thead', {}, h('tr', {}, ['Job', 'Plugin', 'DAG task', 'State', 'Attempt', 'Worker',
					'Created', 'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
				tbody)),
			empty,
			h('div', { class: 'pager' }, newer, where, older));

		let next = null;
		let loadedPlugins = false;
		async function load() {
			const q = new URLSearchParams({ limit: String(PAGE) });
			if (state)
				q.set('state', state);
			if (plugin)
				q.set('plugin', plugin);
			const before = cursors[cursors.length - 1];
			if (before !== null)
				q.set('before', String(before));
			const r = await get('/api/v1/jobs?' + q);
			const list = r.jobs || [];
			syncRows(tbody, list, (j) => j.id, jobRow);
			empty.hidden = list.length > 0;
			next = r.next_before ?? null;
			older.disabled = next === null;
			newer.disabled = cursors.length === 1;
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
