// SPDX-License-Identifier: MIT
// cluster.js - the Spark-master-like page: the master (uptime, version,
// queue) and every worker with its load, heartbeat and plugins.  The
// status is the master's ("ok", or "degraded" naming the dead and late
// workers); a worker that is not alive shows no free capacity.
// GET /api/v1/health, /api/v1/stats and /api/v1/workers.

import { get } from './api.js';
import { h, badge, updateBadge, fmtBytes, fmtDuration, setText, syncRows, replace } from './dom.js';

function meter(used, total, label) {
	const pct = total > 0 ? Math.min(100, Math.round(100 * used / total)) : 0;
	return h('span', { class: 'meter', role: 'img', 'aria-label': label },
		h('span', { class: 'meter-fill', style: { width: pct + '%' } }));
}

function workerRow() {
	const c = {};
	const td = (k, cls) => (c[k] = h('td', { class: cls, 'data-testid': 'worker-' + k }));
	const el = h('tr', { 'data-testid': 'worker-row' },
		(c.name = h('th', { scope: 'row', 'data-testid': 'worker-name' })),
		td('state'), td('slots', 'num'), td('memory', 'num'), td('heartbeat', 'num'),
		td('done', 'num'), td('failed', 'num'), td('plugins'));
	c.badge = badge('unknown');
	c.state.append(c.badge);
	return {
		el,
		update(w) {
			el.dataset.worker = w.name;
			el.dataset.state = w.state;
			replace(c.name, h('a', { href: `#/workers/${encodeURIComponent(w.name)}`, 'data-testid': 'worker-link' }, w.name),
				w.host ? h('span', { class: 'sub' }, w.host) : null);
			updateBadge(c.badge, w.state);
			if (w.state === 'dead' || w.state === 'left') {
				replace(c.slots, `none (${w.state}; ${w.slots} when alive)`);
				replace(c.memory, '—');
			} else {
				const free = w.slots_free ?? w.slots - w.slots_busy;
				replace(c.slots, meter(w.slots_busy, w.slots, `${w.slots_busy} of ${w.slots} slots busy`),
					`${w.slots_busy} used · ${free} free`);
				replace(c.memory, meter(w.memory_busy, w.memory, 'memory in use'),
					`${fmtBytes(w.memory_busy)} / ${fmtBytes(w.memory)}`);
			}
			setText(c.heartbeat, w.heartbeat_age_ms >= 0 ? fmtDuration(w.heartbeat_age_ms) + ' ago' : '');
			setText(c.done, w.tasks_done);
			setText(c.failed, w.tasks_failed);
			setText(c.plugins, (w.plugins || []).map((p) => `${p.name} ${p.version}`).join(', '));
		},
	};
}

function stat(label, testid) {
	const dd = h('dd', { 'data-testid': testid });
	return [h('dt', {}, label), dd];
}

export default {
	nav: 'cluster',
	title: 'Cluster',
	mount(root) {
		const f = {};
		const items = [
			['Status', 'health-status'], ['Version', 'master-version'], ['Uptime', 'master-uptime'],
			['Workers alive', 'workers-alive'], ['Workers late', 'workers-late'], ['Workers dead', 'workers-dead'],
			['Jobs queued', 'jobs-queued'], ['Jobs running', 'jobs-running'],
		];
		const dl = h('dl', { class: 'stats', 'data-testid': 'health' });
		for (const [label, id] of items) {
			const [dt, dd] = stat(label, id);
			f[id] = dd;
			dl.append(dt, dd);
		}
		const status = badge('unknown');
		f['health-status'].append(status);
		const problems = h('ul', { class: 'problems', 'data-testid': 'health-problems', hidden: true });
		const totals = h('dl', { class: 'stats', 'data-testid': 'stats' });
		const tbody = h('tbody', {});
		const empty = h('p', { class: 'empty', hidden: true }, 'No worker has registered yet.');
		root.append(
			h('h1', {}, 'Cluster'),
			h('section', { 'aria-labelledby': 'master-h' }, h('h2', { id: 'master-h' }, 'Master'), dl, problems),
			h('section', { 'aria-labelledby': 'totals-h' }, h('h2', { id: 'totals-h' }, 'Totals'), totals),
			h('section', { 'aria-labelledby': 'workers-h' },
				h('h2', { id: 'workers-h' }, 'Workers'),
				h('div', { class: 'scroll' }, h('table', { 'data-testid': 'workers' },
					h('thead', {}, h('tr', {}, ['Worker', 'State', 'Slots', 'Memory', 'Heartbeat',
						'Tasks done', 'Tasks failed', 'Plugins'].map((t) => h('th', { scope: 'col' }, t)))),
					tbody)),
				empty));
		return {
			async refresh() {
				const [hl, w, st] = await Promise.all([
					get('/api/v1/health'),
					get('/api/v1/workers'),
					get('/api/v1/stats').catch((e) => ({ error: e.message })),
				]);
				updateBadge(status, hl.status);
				f['health-status'].dataset.status = hl.status;
				const probs = hl.problems || [];
				problems.hidden = probs.length === 0;
				replace(problems, probs.map((p) => h('li', { 'data-testid': 'health-problem', 'data-worker': p.worker },
					`worker ${p.worker} is ${p.state}: no heartbeat for ${fmtDuration(p.heartbeat_age_ms)}`)));
				setText(f['master-version'], st.version || hl.version);
				setText(f['master-uptime'], fmtDuration(1000 * (st.uptime_s ?? hl.uptime_s)));
				setText(f['workers-alive'], hl.workers_alive);
				setText(f['workers-late'], hl.workers_late ?? 0);
				setText(f['workers-dead'], hl.workers_dead);
				setText(f['jobs-queued'], hl.queued);
				setText(f['jobs-running'], hl.running);
				if (st.error) {
					replace(totals, h('dt', {}, 'Totals'), h('dd', {}, `unavailable: ${st.error}`));
				} else {
					const rows = [];
					for (const [what, counts] of [['Jobs', st.jobs], ['DAG runs', st.runs]])
						for (const [state, n] of Object.entries(counts || {}))
							rows.push(h('dt', {}, `${what} ${state.replace(/_/g, ' ')}`),
								h('dd', { 'data-testid': `total-${what === 'Jobs' ? 'jobs' : 'runs'}-${state}` }, n));
					replace(totals, rows);
				}
				const workers = w.workers || [];
				syncRows(tbody, workers, (x) => x.name, workerRow);
				empty.hidden = workers.length > 0;
			},
		};
	},
};
