// SPDX-License-Identifier: MIT
// graph.js - a DAG drawn as hand-written SVG, layered left to right,
// with zoom and pan.
//
// A big DAG is drawn collapsed (collapse()): a chain of more than CHAIN
// tasks, each the only downstream of the one before and the only upstream
// of the next, becomes its first task, one segment node and its last
// task; in a layer of more than WIDE nodes, tasks with the same upstream
// and downstream tasks become one group node, and what is still too
// wide is cut into WIDE groups.  A group or segment node says how many
// tasks it holds and shows their states in the selected run as a bar.
// A group or segment node is a button (click, Enter or Space): expanded,
// it stays as a header (aria-expanded="true") and its first SHOW tasks
// are drawn as task nodes, the rest as one "N more" node, so the page
// stays small; the expanded nodes survive polls, zoom and pan.
//
// Layout: a task's layer is the length of the longest path to it from a
// root, so every edge points right.  Within a layer, tasks are ordered by
// the mean position of their upstream tasks (one barycentre pass), which
// untangles the usual ETL shapes; ties keep the topological order the
// master gives.  Edges are cubic curves from the right edge of a node to
// the left edge of the next.

import { h, s, stateClass } from './dom.js';

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

const CHAIN = 6, WIDE = 12, GROUP_MIN = 3, SHOW = 100;

/*
 * tasks (topological order), deps -> {nodes: [{id, tasks: [ids], kind:
 * 'task' | 'group' | 'segment'}] in topological order, deps: {node id:
 * [upstream node ids]}}.  A task's node id is the task's id; a group's or
 * segment's is its first task's id prefixed with a character no task id
 * has ('\u0001').
 *
 * open: a Set of group and segment node ids to draw expanded.  Such a
 * node stays, with open: true and no task of its own (its tasks are
 * still in .tasks, for its bar), followed by its first SHOW tasks as
 * task nodes and, past SHOW, a node of kind 'more' holding the rest.
 */
export function collapse(tasks, deps, open = new Set()) {
	const layer = new Map(), down = new Map();
	for (const t of tasks) {
		let l = 0;
		for (const u of deps[t] || [])
			if (layer.has(u)) {
				l = Math.max(l, layer.get(u) + 1);
				(down.get(u) || down.set(u, []).get(u)).push(t);
			}
		layer.set(t, l);
	}
	const ups = (t) => (deps[t] || []).filter((u) => layer.has(u));
	const downs = (t) => down.get(t) || [];
	const owner = new Map();    // task -> its node
	const nodes = [];
	const add = (kind, ts) => {
		const n = { id: kind === 'task' ? ts[0] : '\u0001' + kind + ':' + ts[0], kind, tasks: ts,
			key: Math.min(...ts.map((t) => layer.get(t))) };
		nodes.push(n);
		if (kind !== 'task' && kind !== 'more' && open.has(n.id)) {
			n.open = true;      // a header: its tasks are drawn after it
			for (const t of ts.slice(0, SHOW))
				add('task', [t]);
			if (ts.length > SHOW)
				add('more', ts.slice(SHOW));
			return n;
		}
		for (const t of ts)
			owner.set(t, n);
		return n;
	};
	// Chains: start at a task that is not the 1-1 continuation of another.
	const link = (t) => downs(t).length === 1 && ups(downs(t)[0]).length === 1;
	for (const t of tasks) {
		if (owner.has(t))
			continue;
		const u = ups(t);
		if (u.length === 1 && link(u[0]))
			continue;      // inside a chain: its head takes it
		const chain = [t];
		while (link(chain[chain.length - 1]))
			chain.push(downs(chain[chain.length - 1])[0]);
		if (chain.length > CHAIN) {
			add('task', [chain[0]]);
			add('segment', chain.slice(1, -1));
			add('task', [chain[chain.length - 1]]);
		}
	}
	// Wide layers: the tasks not in a segment, by layer.
	const byLayer = [];
	for (const t of tasks)
		if (!owner.has(t))
			(byLayer[layer.get(t)] = byLayer[layer.get(t)] || []).push(t);
	for (const ts of byLayer) {
		if (!ts)
			continue;
		if (ts.length <= WIDE) {
			for (const t of ts)
				add('task', [t]);
			continue;
		}
		const same = new Map();
		for (const t of ts) {
			const sig = ups(t).join('\u0002') + '\u0003' + downs(t).join('\u0002');
			(same.get(sig) || same.set(sig, []).get(sig)).push(t);
		}
		let left = [];
		for (const g of same.values())
			if (g.length >= GROUP_MIN)
				add('group', g);
			else
				left = left.concat(g);
		if (left.length > WIDE) {
			const size = Math.ceil(left.length / WIDE);
			for (let i = 0; i < left.length; i += size)
				add('group', left.slice(i, i + size));
		} else {
			for (const t of left)
				add('task', [t]);
		}
	}
	// Topological order of the nodes: the first layer of their tasks.
	const order = new Map(tasks.map((t, i) => [t, i]));
	nodes.sort((a, b) => (a.key - b.key) || (order.get(a.tasks[0]) - order.get(b.tasks[0])));
	// An open header's deps only place it in its first task's layer (its
	// edges are not drawn).
	const ndeps = {};
	for (const n of nodes) {
		const set = new Set();
		const inside = n.open ? new Set(n.tasks) : null;
		for (const t of n.tasks)
			for (const u of ups(t)) {
				const o = owner.get(u);
				if (o !== n && !(inside && inside.has(u)))
					set.add(o.id);
			}
		ndeps[n.id] = [...set];
	}
	return { nodes, deps: ndeps };
}

const VIEW_H = 420;

/*
 * makeGraph() -> {el, set(tasks, deps, states, href)}: the graph in a
 * box of its own that zooms (the buttons, or Ctrl + wheel) and pans
 * (drag, or the scroll bars of a zoomed view).  set() redraws only the
 * states while the tasks and deps are the same objects as before, and
 * keeps the zoom, as it does when they are new objects with the same
 * content (a poll).  Expanding or collapsing a node redraws the graph and
 * moves the view so that the node stays where it was.  states: {task:
 * state} for the selected run; href(task) -> a link for a task's node, or
 * null.
 */
export function makeGraph() {
	const view = s('svg', { class: 'graph', role: 'group', 'data-testid': 'dag-graph' });
	const zoomIn = h('button', { type: 'button', 'data-testid': 'graph-zoom-in', 'aria-label': 'zoom in' }, '+');
	const zoomOut = h('button', { type: 'button', 'data-testid': 'graph-zoom-out', 'aria-label': 'zoom out' }, '−');
	const fit = h('button', { type: 'button', 'data-testid': 'graph-fit' }, 'Fit');
	const el = h('div', { class: 'graph-view' }, h('div', { class: 'graph-tools' }, zoomIn, zoomOut, fit), view);
	let shape = null, size = null, vb = null, drawn = null, pos = null, last = null;
	const open = new Set();     // ids of the expanded group and segment nodes

	function apply() {
		view.setAttribute('viewBox', `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
	}
	function fitAll() {
		// Whole graph, but never drawn larger than 1:1.
		const w = Math.max(el.clientWidth || 900, 100);
		const hgt = Math.min(VIEW_H, size.height);
		const k = Math.max(1, size.width / w, size.height / hgt);
		view.setAttribute('width', '100%');
		view.setAttribute('height', hgt);
		vb = { x: 0, y: 0, w: w * k, h: hgt * k };
		apply();
	}
	function zoom(f, cx, cy) {
		const nw = Math.min(Math.max(vb.w * f, 80), Math.max(size.width, size.height) * 4);
		const r = nw / vb.w;
		cx = cx ?? vb.x + vb.w / 2;
		cy = cy ?? vb.y + vb.h / 2;
		vb = { x: cx - (cx - vb.x) * r, y: cy - (cy - vb.y) * r, w: vb.w * r, h: vb.h * r };
		apply();
	}
	zoomIn.addEventListener('click', () => zoom(1 / 1.25));
	zoomOut.addEventListener('click', () => zoom(1.25));
	fit.addEventListener('click', () => fitAll());
	view.addEventListener('wheel', (e) => {
		if (!e.ctrlKey && !e.metaKey)
			return;
		e.preventDefault();
		const r = view.getBoundingClientRect();
		zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, vb.x + (e.clientX - r.left) / r.width * vb.w,
			vb.y + (e.clientY - r.top) / r.height * vb.h);
	}, { passive: false });
	let drag = null;
	view.addEventListener('pointerdown', (e) => {
		if (e.button !== 0)
			return;
		drag = { x: e.clientX, y: e.clientY, vx: vb.x, vy: vb.y, moved: false };
	});
	view.addEventListener('pointermove', (e) => {
		if (!drag)
			return;
		const r = view.getBoundingClientRect();
		const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
		if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4)
			return;
		if (!drag.moved)
			view.setPointerCapture(e.pointerId);
		drag.moved = true;
		vb.x = drag.vx - dx / r.width * vb.w;
		vb.y = drag.vy - dy / r.height * vb.h;
		apply();
	});
	const end = (e) => {
		if (drag && drag.moved) {
			// A drag is not a click on the node it ends on.
			const stop = (c) => { c.preventDefault(); c.stopPropagation(); };
			view.addEventListener('click', stop, { capture: true, once: true });
			setTimeout(() => view.removeEventListener('click', stop, { capture: true }), 0);
			if (view.hasPointerCapture(e.pointerId))
				view.releasePointerCapture(e.pointerId);
		}
		drag = null;
	};
	view.addEventListener('pointerup', end);
	view.addEventListener('pointercancel', end);

	function build(tasks, deps) {
		shape = { tasks, taskDeps: deps, ...collapse(tasks, deps, open) };
		const lay = layout(shape.nodes.map((n) => n.id), shape.deps);
		pos = lay.pos;
		size = { width: lay.width, height: lay.height };
		view.replaceChildren(...drawEdges(shape, lay.pos));
		drawn = new Map();
		const g = s('g', { class: 'nodes' });
		for (const n of shape.nodes) {
			const p = lay.pos.get(n.id);
			const box = s('g', { transform: `translate(${p.x} ${p.y})` });
			g.append(box);
			drawn.set(n.id, { n, box, link: undefined });
		}
		view.append(g);
		const boxes = shape.nodes.filter((n) => n.kind !== 'task').length;
		view.setAttribute('aria-label', `task graph, ${tasks.length} tasks` +
			(boxes ? `, drawn as ${shape.nodes.length} nodes (groups and chains collapsed)` : ''));
	}
	function toggle(id, refocus) {
		const before = pos.get(id);
		if (open.has(id))
			open.delete(id);
		else
			open.add(id);
		build(shape.tasks, shape.taskDeps);
		const after = pos.get(id);
		if (before && after && vb) {
			vb.x += after.x - before.x;
			vb.y += after.y - before.y;
			apply();
		}
		for (const d of drawn.values())
			drawNode(d, last.states, last.href);
		const b = drawn.get(id) && drawn.get(id).box.querySelector('[role=button]');
		if (b && refocus)
			b.focus({ preventScroll: true });
	}
	const toggler = (e) => {
		const b = e.target.closest && e.target.closest('[role=button]');
		return b && view.contains(b) ? b : null;
	};
	view.addEventListener('click', (e) => {
		const b = toggler(e);
		if (b) {
			e.preventDefault();
			toggle(b.kilnNode, document.activeElement === b);
		}
	});
	view.addEventListener('keydown', (e) => {
		const b = toggler(e);
		if (b && (e.key === 'Enter' || e.key === ' ')) {
			e.preventDefault();
			toggle(b.kilnNode, true);
		}
	});

	return {
		el,
		set(tasks, deps, states, href) {
			last = { states, href };
			if (shape !== null && (shape.tasks !== tasks || shape.taskDeps !== deps) && same(shape, tasks, deps)) {
				shape.tasks = tasks;    // a poll's copy of the same DAG
				shape.taskDeps = deps;
			}
			if (shape === null || shape.tasks !== tasks || shape.taskDeps !== deps) {
				build(tasks, deps);
				if (el.isConnected)
					fitAll();
				else
					requestAnimationFrame(() => fitAll());
			}
			for (const d of drawn.values())
				drawNode(d, states, href);
		},
	};
}

/* Whether TASKS and DEPS are the same DAG as SHAPE's. */
function same(shape, tasks, deps) {
	if (shape.tasks.length !== tasks.length || tasks.some((t, i) => t !== shape.tasks[i]))
		return false;
	const a = shape.taskDeps;
	for (const t of tasks) {
		const x = a[t] || [], y = deps[t] || [];
		if (x.length !== y.length || x.some((u, i) => u !== y[i]))
			return false;
	}
	return true;
}

function drawEdges(shape, pos) {
	const defs = s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
		markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
	s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' })));
	const edges = s('g', { class: 'edges' });
	for (const n of shape.nodes) {
		const b = pos.get(n.id);
		if (n.open)
			continue;
		for (const u of shape.deps[n.id]) {
			const a = pos.get(u);
			const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
			const mx = (x1 + x2) / 2;
			edges.append(s('path', { d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
				class: 'edge', 'marker-end': 'url(#arrow)', 'data-from': u, 'data-to': n.id }));
		}
	}
	return [defs, edges];
}

/* (Re)draw one node's content for STATES, only if its state changed. */
function drawNode(d, states, href) {
	const { n } = d;
	if (n.kind === 'task') {
		const t = n.tasks[0];
		const st = states[t] || 'none';
		const link = href(t);
		if (d.state === st && d.link === link)
			return;
		d.state = st;
		d.link = link;
		const node = s('g', { class: ['node', stateClass(st)], 'data-testid': 'graph-node', 'data-task': t, 'data-state': st },
			s('title', {}, `${t}: ${st.replace(/_/g, ' ')}`),
			s('rect', { width: NODE_W, height: NODE_H, rx: 5 }),
			s('text', { x: 10, y: NODE_H / 2, 'dominant-baseline': 'central' }, clip(t, 20)));
		d.box.replaceChildren(link ? s('a', { href: link, 'aria-label': `${t}: ${st.replace(/_/g, ' ')}` }, node) : node);
		return;
	}
	const count = {};
	for (const t of n.tasks) {
		const st = states[t] || 'none';
		count[st] = (count[st] || 0) + 1;
	}
	const sig = JSON.stringify(count);
	if (d.state === sig)
		return;
	d.state = sig;
	const what = n.kind === 'segment' ? `chain of ${n.tasks.length} tasks` :
		n.kind === 'more' ? `${n.tasks.length} more tasks` : `${n.tasks.length} tasks`;
	const summary = Object.entries(count).map(([st, k]) => `${k} ${st.replace(/_/g, ' ')}`).join(', ');
	const span = `${n.tasks[0]} … ${n.tasks[n.tasks.length - 1]}`;
	const g = s('g', { class: ['node', 'group', n.kind, n.open ? 'open' : null], 'data-testid': 'graph-group',
		'data-kind': n.kind, 'data-count': n.tasks.length, 'data-states': summary },
	s('title', {}, n.kind === 'more' ? `${what} (not drawn; the grid has them): ${span}; ${summary}` :
		`${what}: ${span}; ${summary}; ${n.open ? 'click to collapse' : 'click to expand'}`),
	s('rect', { width: NODE_W, height: NODE_H, rx: 5, class: 'frame' }),
	s('text', { x: 10, y: 12, 'dominant-baseline': 'central' },
		n.kind === 'more' ? what : `${n.open ? '▾' : '▸'} ${what}`));
	if (n.kind !== 'more') {
		g.setAttribute('role', 'button');
		g.setAttribute('tabindex', '0');
		g.setAttribute('aria-expanded', n.open ? 'true' : 'false');
		g.setAttribute('aria-label', `${what}, ${summary}`);
		g.kilnNode = n.id;
	}
	let x = 6;
	const w = NODE_W - 12;
	for (const [st, k] of Object.entries(count)) {
		const bw = w * k / n.tasks.length;
		g.append(s('rect', { x, y: NODE_H - 12, width: bw, height: 7, class: ['bar', stateClass(st)] }));
		x += bw;
	}
	d.box.replaceChildren(g);
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
