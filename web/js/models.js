// models.js - the place of model leaderboards.  They arrive with the
// analytics plugins, which are not built yet; the page exists now so the
// navigation does not change when they do.

import { h } from './dom.js';

export default {
	nav: 'models',
	title: 'Models',
	mount(root) {
		root.append(
			h('h1', {}, 'Models'),
			h('div', { class: 'placeholder', 'data-testid': 'models-placeholder' },
				h('p', {}, 'Model leaderboards arrive with the analytics plugins, which are not built yet.'),
				h('p', { class: 'sub' }, 'When they are, this page will rank the models trained by your pipelines by their metrics.')));
		return { refresh() {} };
	},
};
