// SPDX-License-Identifier: MIT
// logview.js - the log viewer of every page that shows a log: numbered
// lines, a search that highlights every match and steps through them
// ("3 of 12"; Enter and Shift+Enter in the box, or the buttons), a wrap
// toggle remembered across pages, and a download link to the text as
// shown.  No library: a log is drawn as one element per line, its number
// in a data attribute that CSS shows, so that copying the text copies no
// numbers.

import { h, setText } from './dom.js';

const WRAP_KEY = 'kiln-log-wrap';
const CHUNK = 200;      // lines per chunk

/* The text of LINE to search for Q (lower case).  Where lower-casing
 * changes a line's length (a few non-ASCII letters) the offsets would not
 * line up, so that line is searched as written. */
function haystack(line) {
	const low = line.toLowerCase();
	return low.length === line.length ? low : line;
}

/* Fill EL with LINE, its matches of Q (if any) as <mark>s; true if any. */
function paint(el, line, q) {
	el.replaceChildren();
	const hay = q ? haystack(line) : '';
	let i = 0;
	for (let j = q ? hay.indexOf(q) : -1; j >= 0; j = hay.indexOf(q, i)) {
		if (j > i)
			el.append(line.slice(i, j));
		el.append(h('mark', {}, line.slice(j, j + q.length)));
		i = j + q.length;
	}
	if (i < line.length)
		el.append(line.slice(i));
	el.append('\n');
	return i > 0;
}

/*
 * logView({label, testid}) returns {el, show(text, placeholder), setFile(name)}.
 * show() draws TEXT (or PLACEHOLDER when TEXT is empty) and keeps following
 * the tail if the reader was at the bottom; setFile() names the download.
 */
export function logView({ label, testid }) {
	const uid = `lv-${Math.random().toString(36).slice(2, 8)}`;
	let text = '', note = '', query = '', marks = [], cur = -1, url = null, file = 'log.txt';
	let wrap = localStorage.getItem(WRAP_KEY) !== 'off';

	const pre = h('pre', { class: ['log', 'numbered', wrap && 'wrap'], tabindex: 0, 'data-testid': testid,
		'aria-labelledby': label });
	const search = h('input', { type: 'search', id: `${uid}-q`, 'data-testid': 'log-search',
		placeholder: 'text to find', autocomplete: 'off', spellcheck: false });
	// The names say what the words say (WCAG 2.5.3): the arrows are not read.
	const prev = h('button', { type: 'button', 'data-testid': 'log-prev', title: 'Previous match' },
		h('span', { 'aria-hidden': 'true' }, '↑ '), 'Prev');
	const next = h('button', { type: 'button', 'data-testid': 'log-next', title: 'Next match' },
		h('span', { 'aria-hidden': 'true' }, '↓ '), 'Next');
	const count = h('span', { class: 'sub', 'aria-live': 'polite', 'data-testid': 'log-count' });
	const wrapBtn = h('button', { type: 'button', 'data-testid': 'log-wrap', 'aria-pressed': String(wrap) }, 'Wrap lines');
	const down = h('a', { 'data-testid': 'log-download', hidden: true }, 'Download');
	const bar = h('div', { class: 'logview-bar', role: 'search', 'aria-label': 'Search the log' },
		h('label', { for: search.id }, 'Find'), search, prev, next, count, wrapBtn, down);

	function select(i) {
		if (cur >= 0 && marks[cur])
			marks[cur].classList.remove('current');
		cur = marks.length ? (i + marks.length) % marks.length : -1;
		setText(count, !query ? '' : cur < 0 ? 'no matches' : `${cur + 1} of ${marks.length}`);
		prev.disabled = next.disabled = marks.length === 0;
		if (cur >= 0) {
			marks[cur].classList.add('current');
			marks[cur].scrollIntoView({ block: 'nearest', inline: 'nearest' });
		}
	}

	/* Lines are drawn once; a search repaints only the lines that have or
	 * had a match, and a poll that brings more lines appends them, so that
	 * neither costs a long log's whole layout again.  Lines go in chunks
	 * that the browser lays out only near the view (content-visibility). */
	let lines = [], els = [], chunks = [], marked = new Set();

	function draw(grow) {
		const q = query.toLowerCase();
		if (!text) {
			lines = [];
			els = [];
			chunks = [];
			marked = new Set();
			pre.classList.remove('numbered');
			setText(pre, note);
		} else {
			if (!grow) {
				pre.replaceChildren();
				chunks = [];
				els = [];
				marked = new Set();
			}
			pre.classList.add('numbered');
			lines = text.split('\n');
			if (lines.length > 1 && lines[lines.length - 1] === '')
				lines.pop();
			pre.style.setProperty('--digits', `${String(lines.length).length}ch`);
			for (let i = els.length; i < lines.length; i++) {
				const el = h('span', { class: 'line', 'data-n': i + 1 });
				if (paint(el, lines[i], q))
					marked.add(i);
				if (i % CHUNK === 0)
					chunks.push(h('div', { class: 'chunk' }));
				chunks[chunks.length - 1].append(el);
				els.push(el);
			}
			pre.append(...chunks.filter((c) => !c.isConnected));
		}
		marks = q ? Array.from(pre.querySelectorAll('mark')) : [];
	}

	function research() {
		const q = query.toLowerCase();
		const now = new Set();
		lines.forEach((line, i) => {
			const hit = q !== '' && haystack(line).includes(q);
			if (hit || marked.has(i))
				paint(els[i], line, q);
			if (hit)
				now.add(i);
		});
		marked = now;
		marks = q ? Array.from(pre.querySelectorAll('mark')) : [];
	}

	function show(t, placeholder = '') {
		const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
		const keep = cur;
		// Whole lines added at the end: append them only.
		const grow = text !== '' && els.length > 0 && text.endsWith('\n') && (t || '').startsWith(text);
		text = t || '';
		note = placeholder;
		// Nothing to show (a job not started yet): no empty box either.
		box.hidden = !text && !note;
		draw(grow);
		if (url)
			URL.revokeObjectURL(url);
		url = text ? URL.createObjectURL(new Blob([text], { type: 'text/plain' })) : null;
		down.hidden = !url;
		if (url)
			down.href = url;
		else
			down.removeAttribute('href');
		if (atEnd && !query)
			pre.scrollTop = pre.scrollHeight;
		// A poll that brings more lines keeps the reader on their match.
		if (query)
			select(keep < 0 ? 0 : Math.min(keep, marks.length - 1));
	}

	search.addEventListener('input', () => {
		query = search.value;
		research();
		select(0);
	});
	search.addEventListener('keydown', (e) => {
		if (e.key === 'Enter') {
			e.preventDefault();
			select(cur + (e.shiftKey ? -1 : 1));
		}
	});
	prev.addEventListener('click', () => select(cur - 1));
	next.addEventListener('click', () => select(cur + 1));
	wrapBtn.addEventListener('click', () => {
		wrap = !wrap;
		pre.classList.toggle('wrap', wrap);
		wrapBtn.setAttribute('aria-pressed', String(wrap));
		localStorage.setItem(WRAP_KEY, wrap ? 'on' : 'off');
	});
	select(-1);

	const box = h('div', { class: 'logview' }, bar, pre);
	return {
		el: box,
		show,
		setFile(name) {
			file = name;
			down.setAttribute('download', file);
			down.setAttribute('aria-label', `Download ${file}`);
		},
		/* Drop the download's blob when the page goes. */
		close() {
			if (url)
				URL.revokeObjectURL(url);
			url = null;
		},
	};
}
