// SPDX-License-Identifier: MIT
// grid.js - the DAG page's grid of task instances (runs as columns, tasks
// as rows), virtualised: only the rows and columns in view (and a few
// around them) are in the DOM, between spacers that keep the scroll
// extent of the whole grid, so a 1,000-task DAG with 100 runs costs about
// as much as a small one.  The run headers (with their dates) stick to
// the top of the box and the task names to its left.
//
// It is an ARIA grid with one tab stop: the arrow keys, Home, End,
// PageUp and PageDown move between cells (scrolling as needed), Enter or
// Space opens a cell or selects a run.  Cells are the table cells
// themselves, so a cell costs one element.

import { h, fmtTime, stateClass } from './dom.js';

const ROW_H = 22, COL_W = 24, OVER = 4;

/* The task names' column: 200 px, less on a narrow screen (a third of
 * the box, at least 100 px); longer names end in an ellipsis. */
const taskW = (box) => Math.round(Math.min(200, Math.max(100, (box.clientWidth || 1200) / 3)));

function pad(n) {
	return String(n).padStart(2, '0');
}

/* "12-06 14:03" in local time, for a run's column header. */
function shortDate(iso) {
	const d = new Date(iso);
	if (!iso || isNaN(d))
		return '';
	return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function cellLabel(t, r, ti) {
	const st = ti.state || 'none';
	return `${t} in ${r.run_id}: ${st.replace(/_/g, ' ')}` +
		(ti.tries > 1 ? `, ${ti.tries} tries` : '') +
		(ti.next_poke_ms ? `, next poke ${fmtTime(ti.next_poke_ms)}` : '') +
		(ti.map ? `, ${ti.map.count} mapped instances (` +
			Object.entries(ti.map.states).map(([s, n]) => `${n} ${s.replace(/_/g, ' ')}`).join(', ') + ')' : '');
}

/*
 * makeGrid({onSelect(runId), onCell(runId, task, ti)}) -> {el, set(grid,
 * selected), stop()}.  grid: {tasks, runs: [{run_id, state, kind,
 * logical_date}], cell(run, i, task) -> {state, tries?, map?, ...}}, oldest
 * run first; the view starts at the newest.
 */
export function makeGrid({ onSelect, onCell }) {
	const box = h('div', { class: 'scroll grid-box', 'data-testid': 'grid-box' });
	let data = null, selected = null, queued = false, placed = false;
	let active = { row: 0, col: -1 };   // row -1: the run headers; col -1: the newest run
	let table = null;

	const cols = () => data.runs.length;
	const rows = () => data.tasks.length;
	const activeCol = () => (active.col < 0 || active.col >= cols() ? cols() - 1 : active.col);

	function schedule() {
		if (!queued) {
			queued = true;
			requestAnimationFrame(() => {
				queued = false;
				draw();
			});
		}
	}

	/* The element at (row, col) if drawn. */
	function at(row, col) {
		if (!table || col < 0)
			return null;
		return row < 0 ? table.querySelector(`[data-col="${col}"] .run-head`) :
			table.querySelector(`[data-row="${row}"] [data-col="${col}"]`);
	}

	function draw() {
		if (!data)
			return;
		const nr = rows(), nc = cols();
		const focused = table && table.contains(document.activeElement);
		const W = box.clientWidth || 1200, H = box.clientHeight || 600;
		const TASK_W = taskW(box);
		const head = table && table.tHead ? table.tHead.offsetHeight : 100;
		const r0 = Math.max(0, Math.floor(box.scrollTop / ROW_H) - OVER);
		const r1 = Math.min(nr, Math.ceil((box.scrollTop + H - head) / ROW_H) + OVER);
		const c0 = Math.max(0, Math.floor(box.scrollLeft / COL_W) - OVER);
		const c1 = Math.min(nc, Math.ceil((box.scrollLeft + W - TASK_W) / COL_W) + OVER);
		// The one tab stop stays in view: once scrolled away, it moves to
		// the nearest cell in view (not while the grid has the focus).
		if (!focused) {
			const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
			const vr0 = Math.floor(box.scrollTop / ROW_H);
			const vr1 = Math.max(vr0, Math.ceil((box.scrollTop + H - head) / ROW_H) - 1);
			const vc0 = Math.floor(box.scrollLeft / COL_W);
			const vc1 = Math.max(vc0, Math.ceil((box.scrollLeft + W - TASK_W) / COL_W) - 1);
			active = { row: active.row < 0 ? -1 : clamp(active.row, vr0, Math.min(nr - 1, vr1)),
				col: clamp(activeCol(), vc0, Math.min(nc - 1, vc1)) };
		}
		const ac = activeCol();
		const tab = (row, col) => (row === active.row && col === ac ? '0' : '-1');
		const spacer = (w) => (w > 0 ? h('td', { role: 'none', class: 'gap', style: { width: `${w}px` } }) : null);

		const hr = h('tr', { 'aria-rowindex': 1 },
			h('th', { class: 'corner', scope: 'col', style: { width: `${TASK_W}px` } }, 'task \\ run'),
			spacer(c0 * COL_W));
		for (let c = c0; c < c1; c++) {
			const r = data.runs[c];
			const sel = r.run_id === selected;
			hr.append(h('th', { scope: 'col', class: sel ? 'selected' : null, 'aria-colindex': c + 2, 'data-col': c },
				h('button', { type: 'button', class: ['run-head', stateClass(r.state), sel && 'selected'],
					tabindex: tab(-1, c), 'data-testid': 'grid-run', 'data-run': r.run_id, 'data-state': r.state,
					'aria-pressed': sel ? 'true' : 'false', 'aria-label': `run ${r.run_id}: ${r.state}`,
					title: `${r.run_id}\n${r.kind} · ${r.logical_date || ''} · ${r.state}` }),
				h('span', { class: 'run-date', 'aria-hidden': 'true' }, shortDate(r.logical_date))));
		}
		const endH = spacer((nc - c1) * COL_W);
		if (endH)
			hr.append(endH);

		const body = h('tbody', {});
		if (r0 > 0)
			body.append(h('tr', { role: 'none', class: 'gap', style: { height: `${r0 * ROW_H}px` } }, h('td', { role: 'none' })));
		for (let i = r0; i < r1; i++) {
			const t = data.tasks[i];
			const tr = h('tr', { 'aria-rowindex': i + 2, 'data-row': i },
				h('th', { scope: 'row', class: 'task', title: t }, t), spacer(c0 * COL_W));
			for (let c = c0; c < c1; c++) {
				const r = data.runs[c];
				const ti = data.cell(r, i, t);
				const st = ti.state || 'none';
				const label = cellLabel(t, r, ti);
				tr.append(h('td', { class: ['cell', stateClass(st), ti.map && 'mapped', r.run_id === selected && 'selected'],
					tabindex: tab(i, c), 'data-testid': 'grid-cell', 'data-task': t, 'data-run': r.run_id,
					'data-state': st, 'data-col': c, 'aria-colindex': c + 2, title: label, 'aria-label': label },
				ti.map ? String(ti.map.count) : null));
			}
			const end = spacer((nc - c1) * COL_W);
			if (end)
				tr.append(end);
			body.append(tr);
		}
		if (r1 < nr)
			body.append(h('tr', { role: 'none', class: 'gap', style: { height: `${(nr - r1) * ROW_H}px` } }, h('td', { role: 'none' })));

		const next = h('table', { class: 'grid', role: 'grid', 'data-testid': 'dag-grid',
			'aria-label': `task instances: ${nr} tasks by ${nc} runs`, 'aria-rowcount': nr + 1, 'aria-colcount': nc + 1,
			style: { width: `${TASK_W + nc * COL_W}px` } }, h('thead', {}, hr), body);
		next.addEventListener('click', click);
		next.addEventListener('keydown', key);
		if (table)
			table.replaceWith(next);
		else
			box.append(next);
		table = next;
		if (!placed && box.clientWidth > 0) {
			placed = true;    // start at the newest runs, on the right
			const x = box.scrollWidth - box.clientWidth;
			if (x > 0) {
				box.scrollLeft = x;
				draw();
				return;
			}
		}
		if (focused) {
			const el = at(active.row, ac);
			if (el)
				el.focus({ preventScroll: true });
		}
	}

	function click(e) {
		const cell = e.target.closest('[data-testid=grid-cell], [data-testid=grid-run]');
		if (!cell)
			return;
		const col = Number(cell.closest('[data-col]').dataset.col);
		const r = data.runs[col];
		if (cell.dataset.testid === 'grid-run') {
			active = { row: -1, col };
			onSelect(r.run_id);
			return;
		}
		const t = cell.dataset.task;
		active = { row: Number(cell.closest('tr').dataset.row), col };
		onCell(r.run_id, t, data.cell(r, active.row, t));
	}

	/* Move the active cell with the keyboard, scrolling it into view. */
	function key(e) {
		const nr = rows(), nc = cols();
		let { row } = active, col = activeCol();
		const page = Math.max(1, Math.floor((box.clientHeight - 100) / ROW_H));
		switch (e.key) {
		case 'ArrowUp': row = Math.max(-1, row - 1); break;
		case 'ArrowDown': row = Math.min(nr - 1, row + 1); break;
		case 'ArrowLeft': col = Math.max(0, col - 1); break;
		case 'ArrowRight': col = Math.min(nc - 1, col + 1); break;
		case 'Home': col = 0; if (e.ctrlKey) row = 0; break;
		case 'End': col = nc - 1; if (e.ctrlKey) row = nr - 1; break;
		case 'PageUp': row = Math.max(0, row - page); break;
		case 'PageDown': row = Math.min(nr - 1, row + page); break;
		case 'Enter': case ' ':
			if (e.target.matches('td[data-testid=grid-cell]')) {
				e.preventDefault();
				e.target.click();
			}
			return;
		default: return;
		}
		e.preventDefault();
		active = { row, col };
		const head = table.tHead.offsetHeight;
		const y = row < 0 ? 0 : row * ROW_H, x = col * COL_W;
		if (row >= 0 && y < box.scrollTop)
			box.scrollTop = y;
		else if (row >= 0 && y + ROW_H > box.scrollTop + box.clientHeight - head)
			box.scrollTop = y + ROW_H - (box.clientHeight - head);
		if (x < box.scrollLeft)
			box.scrollLeft = x;
		else if (x + COL_W > box.scrollLeft + box.clientWidth - taskW(box))
			box.scrollLeft = x + COL_W - (box.clientWidth - taskW(box));
		draw();
		const el = at(row, col);
		if (el)
			el.focus({ preventScroll: true });
	}

	box.addEventListener('scroll', schedule, { passive: true });
	window.addEventListener('resize', schedule);
	return {
		el: box,
		set(grid, sel) {
			data = grid;
			selected = sel;
			draw();
		},
		stop() {
			window.removeEventListener('resize', schedule);
		},
	};
}
