// SPDX-License-Identifier: MIT
// runs.js - every run of one DAG (#/dags/ID/runs), newest first, PAGE at
// a time: the DAG page's grid shows only the last 25, and this pager
// reaches the older ones.  GET /api/v1/dags/ID/runs?limit=&before= (keyset
// pagination, as the jobs list).

import { get, enc } from './api.js';
import { h, badge, updateBadge, fmtIso, fmtTime, fmtDuration, span, setText, syncRows } from './dom.js';

const PAGE = 25;

function runRow() {
	const c = {};
	const el = h('tr', { 'data-testid': 'run-row' },
		h('th', { scope: 'row' }, (c.link = h('a', { 'data-testid': 'run-link' }))),
		(c.kind = h('td', {})),
		h('td', {}, (c.state = badge('queued'))),
		(c.logical = h('td', {})),
		(c.created = h('td', {})),
		(c.dur = h('td', { class: 'num' })));
	return {
		el,
		update(r) {
			el.dataset.run = r.run_id;
			c.link.href = `#/runs/${enc(r.run_id)}`;
			setText(c.link, r.run_id);
			setText(c.kind, r.kind);
			updateBadge(c.state, r.state);
			setText(c.logical, fmtIso(r.logical_date));
			setText(c.created, fmtTime(r.created_ms));
			setText(c.dur, fmtDuration(span(r.created_ms, r.finished_ms)));
		},
	};
}

export default {
	nav: 'dags',
	title: 'Runs',
	mount(root, ctx) {
		const id = ctx.params[0];
		const cursors = [null];
		const tbody = h('tbody', {});
		const newer = h('button', { type: 'button', 'data-testid': 'runs-newer', disabled: true }, '← Newer');
		const older = h('button', { type: 'button', 'data-testid': 'runs-older', disabled: true }, 'Older →');
		const where = h('span', { class: 'sub', 'data-testid': 'runs-page' });
		const empty = h('p', { class: 'empty', hidden: true }, 'No run yet.');
		root.append(
			h('p', { class: 'crumbs' }, h('a', { href: '#/dags' }, 'DAGs'), ' / ',
				h('a', { href: `#/dags/${enc(id)}` }, id), ' / '),
			h('h1', {}, `Runs of ${id}`),
			h('div', { class: 'scroll' }, h('table', { 'data-testid': 'runs' },
				h('thead', {}, h('tr', {}, ['Run', 'Kind', 'State', 'Logical date', 'Created', 'Duration']
					.map((t) => h('th', { scope: 'col' }, t)))),
				tbody)),
			empty,
			h('div', { class: 'pager' }, newer, where, older));
		let next = null;
		async function load() {
			const q = new URLSearchParams({ limit: String(PAGE) });
			const before = cursors[cursors.length - 1];
			if (before !== null)
				q.set('before', String(before));
			const r = await get(`/api/v1/dags/${enc(id)}/runs?${q}`);
			const list = r.runs || [];
			syncRows(tbody, list, (x) => x.run_id, runRow);
			empty.hidden = list.length > 0;
			next = r.next_before ?? null;
			older.disabled = next === null;
			newer.disabled = cursors.length === 1;
			setText(where, `page ${cursors.length}`);
		}
		const go = (f) => () => { f(); load().catch((e) => ctx.showError(e.message)); };
		older.addEventListener('click', go(() => { if (next !== null) cursors.push(next); }));
		newer.addEventListener('click', go(() => { if (cursors.length > 1) cursors.pop(); }));
		return { refresh: load };
	},
};
