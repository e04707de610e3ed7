// SPDX-License-Identifier: MIT
// dom.js - small helpers every page uses: building elements without
// innerHTML (text always goes in as text nodes, so nothing from the API is
// ever parsed as markup), updating tables in place, and formatting numbers,
// times and states the same way everywhere.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			el.addEventListener(k.slice(2), v);
		else if (k === 'class')
			el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
		else if (k === 'style' && typeof v === 'object')
			Object.assign(el.style, v);
		else if (k in el && typeof v !== 'string' && el.namespaceURI !== SVG_NS)
			el[k] = v;   // properties such as checked, disabled, value
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
}

/* h('a', {href: '#/jobs', class: 'x'}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
	return build(document.createElement(tag), attrs, children);
}

/* The same for SVG elements (every attribute set as an attribute). */
export function s(tag, attrs, ...children) {
	return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/* Set text only when it changed, so that live regions and selections are
 * not disturbed by a poll that brought nothing new. */
export function setText(el, text) {
	text = String(text ?? '');
	if (el.textContent !== text)
		el.textContent = text;
}

export function replace(el, ...children) {
	el.replaceChildren();
	append(el, children);
}

/*
 * Keep the rows of TBODY in step with ITEMS without rebuilding them: a row
 * keeps its element (and so keyboard focus and text selection) across
 * polls.  make(item) returns {el, update(item)}; rows are moved only when
 * their position changed, because moving a node drops its focus.
 */
export function syncRows(tbody, items, key, make) {
	const old = tbody._rows || new Map();
	const rows = new Map();
	items.forEach((item, i) => {
		const k = String(key(item));
		let r = old.get(k);
		if (r === undefined)
			r = make(item);
		r.update(item);
		rows.set(k, r);
		if (tbody.children[i] !== r.el)
			tbody.insertBefore(r.el, tbody.children[i] || null);
	});
	for (const [k, r] of old)
		if (!rows.has(k))
			r.el.remove();
	tbody._rows = rows;
}

/* ------------------------------------------------------------- states */

export const STATES = ['success', 'succeeded', 'failed', 'running', 'queued',
	'up_for_retry', 'up_for_reschedule', 'upstream_failed', 'skipped', 'none', 'cancelled',
	'alive', 'late', 'dead', 'left', 'unknown', 'ok', 'degraded'];

export function stateClass(state) {
	return 'st-' + (STATES.includes(state) ? state : 'unknown');
}

/* A state as a coloured badge that also says its name: colour is never the
 * only carrier of meaning. */
export function badge(state, attrs = {}) {
	const st = state || 'none';
	return h('span', { class: ['badge', stateClass(st)], 'data-state': st, ...attrs },
		st.replace(/_/g, ' '));
}

export function updateBadge(el, state) {
	const st = state || 'none';
	if (el.dataset.state === st)
		return;
	el.dataset.state = st;
	el.setAttribute('class', 'badge ' + stateClass(st));
	el.textContent = st.replace(/_/g, ' ');
}

/* --------------------------------------------------------- formatting */

export function fmtDuration(ms) {
	if (ms === null || ms === undefined || ms < 0 || !Number.isFinite(ms))
		return '';
	if (ms < 1000)
		return `${Math.round(ms)} ms`;
	const sec = ms / 1000;
	if (sec < 60)
		return Number.isInteger(sec) ? `${sec} s` : `${sec.toFixed(sec < 10 ? 2 : 1)} s`;
	const m = Math.floor(sec / 60), r = Math.floor(sec % 60);
	if (m < 60)
		return `${m}m ${r}s`;
	const hr = Math.floor(m / 60);
	if (hr < 48)
		return `${hr}h ${m % 60}m`;
	return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

export function fmtBytes(n) {
	if (n === null || n === undefined || !Number.isFinite(n))
		return '';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/* kiln keeps time in UTC (docs/pipelines.md), so the dashboard shows UTC. */
export function fmtTime(ms) {
	if (!ms || ms <= 0)
		return '';
	return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function fmtIso(iso) {
	return iso ? String(iso).replace('T', ' ').replace('+00:00', 'Z') : '';
}

/* Duration of something that started at A and ended at B (or is still going). */
export function span(a, b) {
	if (!a || a <= 0)
		return null;
	return (b && b > 0 ? b : Date.now()) - a;
}

export function json(v) {
	return JSON.stringify(v, null, 2);
}

/* A box that scrolls must be reachable by keyboard (WCAG 2.1.1; axe's
 * scrollable-region-focusable): each .scroll under ROOT that overflows
 * and holds nothing focusable gets tabindex=0 and, as a region, the name
 * of its section's heading; one that no longer overflows loses them.
 * The shell runs this after every refresh and on resize. */
export function focusableScrolls(root) {
	for (const el of root.querySelectorAll('.scroll')) {
		const over = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
		const mine = el.dataset.scrollFocus === '1';
		if (over && !mine && el.getAttribute('tabindex') === null &&
		    !el.querySelector('a[href], button, input, select, textarea, [tabindex]')) {
			const sec = el.closest('section');
			const head = sec && sec.querySelector('h2, h3');
			el.dataset.scrollFocus = '1';
			el.tabIndex = 0;
			if (!el.getAttribute('role'))
				el.setAttribute('role', 'region');
			if (!el.getAttribute('aria-label'))
				el.setAttribute('aria-label', head ? `${head.textContent} (scrolls)` : 'Scrolling table');
		} else if (!over && mine) {
			delete el.dataset.scrollFocus;
			el.removeAttribute('tabindex');
			el.removeAttribute('role');
			el.removeAttribute('aria-label');
		}
	}
}
