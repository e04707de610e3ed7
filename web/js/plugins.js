// SPDX-License-Identifier: MIT
// plugins.js - the plugins the live workers have loaded: each plugin with
// its versions, params and the workers offering it, then the same by
// worker, then the plugin files that failed to load.
// GET /api/v1/plugins and /api/v1/workers.

import { get } from './api.js';
import { h, badge, replace } from './dom.js';

function paramList(params) {
	if (!params || !params.length)
		return h('span', { class: 'sub' }, 'none');
	return h('ul', { class: 'params' }, params.map((p) => h('li', {},
		h('code', {}, p.name), h('span', { class: 'sub' }, ` ${p.type || ''}`),
		p.default !== undefined && p.default !== null ? h('span', { class: 'sub' }, ` = ${JSON.stringify(p.default)}`) : null,
		p.help ? ` — ${p.help}` : null)));
}

export default {
	nav: 'plugins',
	title: 'Plugins',
	mount(root) {
		const byPlugin = h('div', { class: 'scroll' });
		const byWorker = h('div', { class: 'scroll' });
		const errors = h('div', {});
		root.append(
			h('h1', {}, 'Plugins'),
			h('section', { 'aria-labelledby': 'p-h' }, h('h2', { id: 'p-h' }, 'Loaded plugins'), byPlugin),
			h('section', { 'aria-labelledby': 'w-h' }, h('h2', { id: 'w-h' }, 'By worker'), byWorker),
			h('section', { 'aria-labelledby': 'e-h' }, h('h2', { id: 'e-h' }, 'Load errors'), errors));
		let last = '';
		return {
			async refresh() {
				const [p, w] = await Promise.all([get('/api/v1/plugins'), get('/api/v1/workers')]);
				// Worker heartbeat ages change on every poll; they are not shown here.
				const workers = (w.workers || []).map((x) => ({ name: x.name, state: x.state, plugins: x.plugins }));
				const sig = JSON.stringify([p, workers]);
				if (sig === last)
					return;
				last = sig;
				const plugins = (p.plugins || []).slice().sort((a, b) => a.name.localeCompare(b.name));
				const versions = (name) => [...new Set(workers.flatMap((x) =>
					(x.plugins || []).filter((q) => q.name === name).map((q) => q.version)))];
				replace(byPlugin, plugins.length ? h('table', { 'data-testid': 'plugins' },
					h('thead', {}, h('tr', {}, ['Plugin', 'Versions', 'Description', 'Params', 'Workers']
						.map((t) => h('th', { scope: 'col' }, t)))),
					h('tbody', {}, plugins.map((x) => {
						const vs = versions(x.name);
						const skew = vs.length > 1;
						return h('tr', { 'data-testid': 'plugin-row', 'data-plugin': x.name },
							h('th', { scope: 'row' }, x.name),
							h('td', { class: skew ? 'warn' : null, title: skew ? 'workers run different versions' : null },
								(vs.length ? vs : [x.version]).join(', ')),
							h('td', {}, x.description || ''),
							h('td', {}, paramList(x.params)),
							h('td', {}, (x.workers || []).join(', ')));
					}))) : h('p', { class: 'empty' }, 'No live worker offers a plugin.'));
				replace(byWorker, workers.length ? h('table', { 'data-testid': 'plugins-by-worker' },
					h('thead', {}, h('tr', {}, ['Worker', 'State', 'Plugins'].map((t) => h('th', { scope: 'col' }, t)))),
					h('tbody', {}, workers.map((x) => h('tr', { 'data-testid': 'plugin-worker', 'data-worker': x.name },
						h('th', { scope: 'row' }, x.name),
						h('td', {}, badge(x.state)),
						h('td', {}, h('ul', { class: 'inline' }, (x.plugins || []).map((q) =>
							h('li', {}, h('code', {}, q.name), ' ', h('span', { class: 'sub' }, q.version))))))))) :
					h('p', { class: 'empty' }, 'No worker.'));
				const errs = p.errors || [];
				replace(errors, errs.length ? h('ul', { class: 'errors', 'data-testid': 'plugin-errors' },
					errs.map((e) => h('li', { 'data-testid': 'plugin-error' },
						h('strong', {}, e.worker), ' ', h('code', {}, e.file), h('pre', {}, e.error)))) :
					h('p', { class: 'empty', 'data-testid': 'plugin-errors-none' }, 'No plugin file failed to load.'));
			},
		};
	},
};
