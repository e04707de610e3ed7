// SPDX-License-Identifier: MIT
// logview.mjs - times the dashboard's log viewer (web/js/logview.js) in
// Debian's chromium on synthetic logs of 1,000 to 50,000 lines: the first
// draw, a search, 10 more lines from a poll; and checks that the tail stays
// pinned and that a match far down is scrolled into view.  Serves web/ itself
// (no master needed); uses tests/browser's playwright-core (npm ci there).
// Run: node bench/logview.mjs
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';
const WEB = path.join(path.dirname(fileURLToPath(import.meta.url)), '../web');
const srv = http.createServer((q, r) => {
	if (q.url === '/') { r.setHeader('Content-Type', 'text/html'); return r.end('<!doctype html><link rel=stylesheet href=/style.css><div id=x></div>'); }
	const f = path.join(WEB, q.url);
	if (q.url.includes('..') || !fs.existsSync(f)) { r.statusCode = 404; return r.end(); }
	r.setHeader('Content-Type', f.endsWith('.js') ? 'text/javascript' : 'text/css');
	r.end(fs.readFileSync(f));
}).listen(0, '127.0.0.1');
await new Promise((ok) => srv.on('listening', ok));
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const p = await b.newPage();
await p.goto(`http://127.0.0.1:${srv.address().port}/`);
for (const n of [1000, 10000, 50000]) {
	const r = await p.evaluate(async (n) => {
		const { logView } = await import('/js/logview.js');
		const v = logView({ label: 'x', testid: 'l' });
		document.getElementById('x').replaceChildren(v.el);
		const text = Array.from({ length: n }, (_, i) => `2026-12-06T04:08:29.645Z INFO task ${i}: processed batch ${i % 97} of rows`).join('\n');
		const frame = () => new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0)));
		let t = performance.now(); v.show(text); await frame(); const show = performance.now() - t;
		const s = v.el.querySelector('input');
		t = performance.now(); s.value = 'batch 42 '; s.dispatchEvent(new Event('input')); await frame(); const find = performance.now() - t;
		const more = text + '\n' + Array.from({ length: 10 }, (_, i) => `tail ${i}`).join('\n') + '\n';
		v.show(text + '\n'); await frame();
		t = performance.now(); v.show(more); await frame(); const tail = performance.now() - t;
		const pre = v.el.querySelector('pre');
		s.value = ''; s.dispatchEvent(new Event('input'));
		pre.scrollTop = pre.scrollHeight; await frame();
		v.show(more + 'one more\n'); await frame(); await frame();
		const pinned = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
		s.value = 'batch 42 '; s.dispatchEvent(new Event('input')); await frame();
		const nb = v.el.querySelectorAll('button')[1];
		for (let k = 0; k < 5; k++) nb.click();
		await frame();
		const cm = v.el.querySelector('mark.current').getBoundingClientRect(), pr = pre.getBoundingClientRect();
		const seen = cm.top >= pr.top && cm.bottom <= pr.bottom && cm.height > 0;
		const marks = v.el.querySelectorAll('mark').length;
		return { pinned, seen, show: Math.round(show), find: Math.round(find), tail: Math.round(tail), marks, nodes: v.el.querySelectorAll('*').length };
	}, n);
	if (!r.pinned || !r.seen)
		process.exitCode = 1;
	console.log(`${n} lines: show ${r.show} ms, search ${r.find} ms (${r.marks} matches), 10 more lines ${r.tail} ms, ${r.nodes} elements; tail pinned ${r.pinned}, 6th match in view ${r.seen}`);
}
await b.close(); srv.close();
