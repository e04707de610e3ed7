// SPDX-License-Identifier: MIT
// graph.js - a DAG drawn as hand-written SVG, layered left to right.
//
// Layout: a task's layer is the length of the longest path to it from a
// root, so every edge points right.  Within a layer, tasks are ordered by
// the mean position of their upstream tasks (one barycentre pass), which
// untangles the usual ETL shapes; ties keep the topological order the
// master gives.  Edges are cubic curves from the right edge of a node to
// the left edge of the next.

import { s, stateClass } from './dom.js';

const NODE_W = 150, NODE_H = 34, GAP_X = 60, GAP_Y = 18, PAD = 12;

/* tasks: ids in topological order; deps: {task: [upstream]} ->
 * {pos: Map(task -> {x, y}), width, height}. */
export function layout(tasks, deps) {
	const layer = new Map();
	for (const t of tasks) {
		let l = 0;
		for (const u of deps[t] || [])
			if (layer.has(u))
				l = Math.max(l, layer.get(u) + 1);
		layer.set(t, l);
	}
	const layers = [];
	for (const t of tasks) {
		const l = layer.get(t);
		(layers[l] = layers[l] || []).push(t);
	}
	const row = new Map();
	layers.forEach((ts, l) => {
		if (l > 0) {
			const bary = (t) => {
				const ups = (deps[t] || []).filter((u) => row.has(u));
				return ups.length ? ups.reduce((a, u) => a + row.get(u), 0) / ups.length : Infinity;
			};
			const keyed = ts.map((t, i) => [bary(t), i, t]);
			keyed.sort((a, b) => (a[0] - b[0]) || (a[1] - b[1]));
			ts = layers[l] = keyed.map((k) => k[2]);
		}
		ts.forEach((t, i) => row.set(t, i));
	});
	const tallest = Math.max(1, ...layers.map((ts) => ts.length));
	const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
	const pos = new Map();
	layers.forEach((ts, l) => {
		const colH = ts.length * NODE_H + (ts.length - 1) * GAP_Y;
		const top = (height - colH) / 2;
		ts.forEach((t, i) => pos.set(t, {
			x: PAD + l * (NODE_W + GAP_X),
			y: top + i * (NODE_H + GAP_Y),
		}));
	});
	const width = PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
	return { pos, width, height };
}

function clip(text, max) {
	return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/*
 * Draw the graph.  states: {task: state} for the selected run (or {});
 * href(task) -> link for a node or null.  Returns an <svg>.
 */
export function drawGraph(tasks, deps, states, href) {
	const { pos, width, height } = layout(tasks, deps);
	const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'graph',
		role: 'img', 'aria-label': `task graph, ${tasks.length} tasks`, 'data-testid': 'dag-graph' });
	svg.append(s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
		markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
	s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
	const edges = s('g', { class: 'edges' });
	for (const t of tasks) {
		const b = pos.get(t);
		for (const u of deps[t] || []) {
			const a = pos.get(u);
			if (!a)
				continue;
			const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
			const mx = (x1 + x2) / 2;
			edges.append(s('path', { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
				class: 'edge', 'marker-end': 'url(#arrow)', 'data-from': u, 'data-to': t }));
		}
	}
	svg.append(edges);
	for (const t of tasks) {
		const p = pos.get(t);
		const st = states[t] || 'none';
		const title = s('title', {}, `${t}: ${st.replace(/_/g, ' ')}`);
		const node = s('g', { class: ['node', stateClass(st)], transform: `translate(${p.x} ${p.y})`,
			'data-testid': 'graph-node', 'data-task': t, 'data-state': st },
		title,
		s('rect', { width: NODE_W, height: NODE_H, rx: 5 }),
		s('text', { x: 10, y: NODE_H / 2, 'dominant-baseline': 'central' }, clip(t, 20)));
		const link = href(t);
		svg.append(link ? s('a', { href: link }, node) : node);
	}
	return svg;
}

/*
 * Horizontal bars: one per task of the selected run, its duration (still
 * growing while it runs).  rows: [{task, state, ms}].
 */
export function drawDurations(rows) {
	const LABEL = 150, BAR = 320, RH = 22, RIGHT = 90;
	const max = Math.max(1, ...rows.map((r) => r.ms || 0));
	const height = rows.length * RH + 8;
	const svg = s('svg', { viewBox: `0 0 ${LABEL + BAR + RIGHT} ${height}`, width: LABEL + BAR + RIGHT,
		height, class: 'bars', role: 'img', 'aria-label': 'task durations of the selected run',
		'data-testid': 'durations' });
	rows.forEach((r, i) => {
		const y = 4 + i * RH;
		const w = r.ms ? Math.max(2, BAR * r.ms / max) : 0;
		svg.append(s('g', { 'data-testid': 'duration-row', 'data-task': r.task },
			s('text', { x: LABEL - 8, y: y + RH / 2, 'text-anchor': 'end', 'dominant-baseline': 'central' },
				clip(r.task, 20)),
			s('rect', { x: LABEL, y: y + 3, width: w, height: RH - 6, rx: 2, class: ['bar', stateClass(r.state)] }),
			s('text', { x: LABEL + w + 6, y: y + RH / 2, 'dominant-baseline': 'central', class: 'sub' },
				r.label)));
	});
	return svg;
}
