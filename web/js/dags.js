// SPDX-License-Identifier: MIT
// dags.js - the Airflow-like DAG list: schedule, next and last run, a
// paused switch, a trigger button, and the files that failed to load.
// GET /api/v1/dags and /api/v1/dags/errors; POST .../pause, .../unpause,
// .../trigger.  Viewers see the same page without the controls.

import { get, post, enc } from './api.js';
import { h, badge, updateBadge, fmtIso, setText, syncRows, replace } from './dom.js';
import { openTrigger } from './trigger.js';

function dagRow(ctx, admin) {
	const c = {};
	const link = h('a', { 'data-testid': 'dag-link' });
	c.desc = h('span', { class: 'sub' });
	c.schedule = h('td', { 'data-testid': 'dag-schedule' });
	c.next = h('td', { 'data-testid': 'dag-next' });
	c.last = h('td', { 'data-testid': 'dag-last' });
	c.lastBadge = badge('none');
	c.lastDate = h('span', { class: 'sub' });
	c.last.append(c.lastBadge, ' ', c.lastDate);
	c.active = h('td', { class: 'num', 'data-testid': 'dag-active' });
	c.pause = h('button', { type: 'button', role: 'switch', class: 'switch', 'data-testid': 'dag-pause',
		disabled: !admin, title: admin ? null : 'viewers cannot pause DAGs' });
	const actions = h('td', {});
	let current = null;
	if (admin) {
		const trig = h('button', { type: 'button', class: 'primary', 'data-testid': 'dag-trigger' }, 'Trigger');
		trig.addEventListener('click', () => openTrigger(current.id,
			(run) => ctx.navigate(`#/dags/${enc(current.id)}?run=${enc(run)}`)).catch((e) => ctx.showError(e.message)));
		actions.append(trig);
	}
	c.pause.addEventListener('click', async () => {
		const want = !current.paused;
		c.pause.disabled = true;
		try {
			const r = await post(`/api/v1/dags/${enc(current.id)}/${want ? 'pause' : 'unpause'}`, {});
			current.paused = r.paused ?? want;
			showPaused(current.paused);
		} catch (e) {
			ctx.showError(e.message);
		} finally {
			c.pause.disabled = false;
		}
	});
	function showPaused(p) {
		c.pause.setAttribute('aria-checked', p ? 'false' : 'true');
		setText(c.pause, p ? 'paused' : 'active');
		c.pause.setAttribute('aria-label', `${current.id}: ${p ? 'paused, click to unpause' : 'active, click to pause'}`);
	}
	const el = h('tr', { 'data-testid': 'dag-row' },
		h('td', {}, c.pause),
		h('th', { scope: 'row' }, link, c.desc),
		c.schedule, c.next, c.last, c.active, actions);
	return {
		el,
		update(d) {
			current = d;
			el.dataset.dag = d.id;
			link.href = `#/dags/${enc(d.id)}`;
			setText(link, d.id);
			setText(c.desc, d.description || '');
			setText(c.schedule, d.schedule || 'manual');
			setText(c.next, d.paused || !d.next_run ? '—' : fmtIso(d.next_run));
			updateBadge(c.lastBadge, d.last_run ? d.last_run.state : 'none');
			c.lastBadge.hidden = !d.last_run;
			setText(c.lastDate, d.last_run ? fmtIso(d.last_run.logical_date) : 'never run');
			setText(c.active, d.active_runs ?? '');
			showPaused(d.paused);
		},
	};
}

export default {
	nav: 'dags',
	title: 'DAGs',
	mount(root, ctx) {
		const admin = ctx.me.role === 'admin';
		const tbody = h('tbody', {});
		const empty = h('p', { class: 'empty', hidden: true }, 'No DAG is loaded: put DAG files in master.dags_dir.');
		const errs = h('ul', { class: 'errors', 'data-testid': 'dag-errors' });
		const errSection = h('section', { 'aria-labelledby': 'errs-h', hidden: true },
			h('h2', { id: 'errs-h' }, 'Import errors'), errs);
		root.append(
			h('h1', {}, 'DAGs'),
			errSection,
			h('div', { class: 'scroll' }, h('table', { 'data-testid': 'dags' },
				h('thead', {}, h('tr', {}, ['On', 'DAG', 'Schedule', 'Next run', 'Last run', 'Active runs',
					h('span', { class: 'visually-hidden' }, 'Actions')].map(
					(t) => h('th', { scope: 'col' }, t)))),
				tbody)),
			empty);
		let lastErrs = '';
		return {
			async refresh() {
				const [d, e] = await Promise.all([get('/api/v1/dags'), get('/api/v1/dags/errors')]);
				const list = (d.dags || []).slice().sort((a, b) => a.id.localeCompare(b.id));
				syncRows(tbody, list, (x) => x.id, () => dagRow(ctx, admin));
				empty.hidden = list.length > 0;
				const sig = JSON.stringify(e.errors || []);
				if (sig !== lastErrs) {
					lastErrs = sig;
					replace(errs, (e.errors || []).map((x) => h('li', { 'data-testid': 'dag-error' },
						h('code', {}, x.file), h('pre', {}, x.error))));
					errSection.hidden = !(e.errors || []).length;
				}
			},
		};
	},
};
