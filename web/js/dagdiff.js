// SPDX-License-Identifier: MIT
// dagdiff.js - DAG versions on the dashboard: the version a run ran or a
// DAG runs now (number, start of its SHA-256, when first seen, and
// whether it is the current one), and the diff page
// #/dags/ID/diff?from=N&to=M (GET /api/v1/dags/ID/diff) drawn line by
// line as text nodes, as every page is (strict CSP, no innerHTML).

import { get, enc } from './api.js';
import { h, replace, fmtTime } from './dom.js';

/* What a <dd> shows of version V ({version, hash, created_ms, current,
 * latest}, or null) of DAG DAG_ID: "v2 · 3f9a0c1d2e4b · time", and when it
 * is not the current one, a mark and a link to its diff with the current. */
export function versionFact(v, dagId) {
	if (!v)
		return h('dd', { 'data-testid': 'dag-version' }, 'unknown (before versions were kept)');
	const dd = h('dd', { 'data-testid': 'dag-version', 'data-version': String(v.version),
		'data-current': v.current ? 'yes' : 'no' },
	`v${v.version} · `, h('code', { title: v.hash }, v.hash.slice(0, 12)), ` · ${fmtTime(v.created_ms)}`);
	if (!v.current)
		dd.append(' ', h('span', { class: 'badge st-queued', 'data-testid': 'dag-version-old' },
			`not current (v${v.latest})`), ' ',
		h('a', { href: `#/dags/${enc(dagId)}/diff?from=${v.version}&to=${v.latest}`,
			'data-testid': 'dag-version-diff' }, 'diff with current'));
	return dd;
}

/* The unified diff D as one row per line, classed by its first char. */
function diffLines(d) {
	const pre = h('pre', { class: 'diff', 'data-testid': 'dag-diff', tabindex: 0 });
	for (const line of d.split('\n')) {
		if (line === '')
			continue;
		const c = line[0];
		const cls = line.startsWith('@@') ? 'hunk' : line.startsWith('---') || line.startsWith('+++') ? 'file' :
			c === '+' ? 'add' : c === '-' ? 'del' : null;
		pre.append(h('span', { class: cls ? `dl ${cls}` : 'dl' }, line));
	}
	return pre;
}

export default {
	nav: 'dags',
	title: 'DAG diff',
	mount(root, ctx) {
		const id = ctx.params[0];
		const from = ctx.query.get('from') || '';
		const to = ctx.query.get('to') || '';
		const summary = h('p', { class: 'sub', 'data-testid': 'dag-diff-summary' });
		const body = h('div', {});
		root.append(h('p', { class: 'crumbs' }, h('a', { href: '#/dags' }, 'DAGs'), ' / ',
			h('a', { href: `#/dags/${enc(id)}` }, id), ' / '),
		h('div', { class: 'title-row' }, h('h1', {}, 'Versions of ', id)), summary, body);
		return {
			interval: 30000,
			async refresh() {
				const q = new URLSearchParams();
				if (from) q.set('from', from);
				if (to) q.set('to', to);
				const d = await get(`/api/v1/dags/${enc(id)}/diff?${q}`);
				replace(summary, `Version ${d.from} against version ${d.to}` +
					(d.to === d.current ? ' (current)' : '') + `: ${d.added} line${d.added === 1 ? '' : 's'} added, ${d.removed} removed.`);
				replace(body, d.diff ? diffLines(d.diff) : h('p', { class: 'empty' }, 'The two versions are the same.'));
			},
		};
	},
};
