// SPDX-License-Identifier: MIT
// grid_browser.mjs - the DAG page of a big DAG in chromium, as
// bench/grid_bench.py --browser runs it (playwright-core from
// tests/browser/node_modules, Debian's chromium; never a downloaded
// browser).  Logs in, opens #/dags/DAG and prints, as one JSON line:
//   visible_ms   from navigation to the first grid cell in the DOM
//   elements     elements in the document once it settled (nodes: all
//                nodes, text included)
//   frame_max_ms the longest gap between animation frames while idle
//   longtask_ms  the longest task the Performance API saw while idle
//   idle_bytes   bytes on the wire (requests and responses, headers
//                included) while idle for IDLE_S seconds, and per minute
//   scrolled     whether scrolling the grid to its end drew the last task
//
// Usage: node bench/grid_browser.mjs URL USER PASSWORD DAG [IDLE_S]
// (SHOT=file.png: a screenshot of the page, scrolled to the grid's end;
// SLOW=1: each frame over 34 ms while idle, with the requests around it,
// on stderr)

import { chromium } from '../tests/browser/node_modules/playwright-core/index.mjs';

const [url, user, password, dag, idleArg] = process.argv.slice(2);
const IDLE_S = Number(idleArg || 30);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
try {
	const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
	const page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(e.message));
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	await page.goto(url + '/#/login');
	await page.getByTestId('login-user').fill(user);
	await page.getByTestId('login-password').fill(password);
	await page.getByTestId('login-submit').click();
	await page.getByTestId('nav').waitFor();
	// The time the first cell appears, from the navigation's start.
	await page.addInitScript(() => {
		new MutationObserver((_, o) => {
			if (document.querySelector('[data-testid=grid-cell]')) {
				window.__gridAt = performance.now();
				o.disconnect();
			}
		}).observe(document, { childList: true, subtree: true });
	});
	await page.goto('about:blank');    // a whole load, not a change of hash
	errors.length = 0;
	await page.goto(`${url}/#/dags/${encodeURIComponent(dag)}`);
	try {
		await page.waitForFunction(() => window.__gridAt !== undefined, null, { timeout: 60000 });
	} catch (e) {
		throw new Error(`no grid: ${errors.join('; ') || e.message}`);
	}
	const visible = await page.evaluate(() => window.__gridAt);
	await page.waitForTimeout(3000);   // the graph, and a poll or two
	const dom = await page.evaluate(() => {
		let nodes = 0;
		const w = document.createTreeWalker(document, NodeFilter.SHOW_ALL);
		while (w.nextNode())
			nodes++;
		return { elements: document.getElementsByTagName('*').length, nodes };
	});
	// Idle: frames, long tasks and bytes on the wire.
	const cdp = await ctx.newCDPSession(page);
	await cdp.send('Network.enable');
	let bytes = 0, requests = 0;
	cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
	cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
		requests++;
		for (const [k, v] of Object.entries(e.headers))
			bytes += k.length + String(v).length + 4;
	});
	const idle = await page.evaluate((ms) => new Promise((done) => {
		let last = performance.now(), worst = 0, longest = 0;
		const slow = [];
		const po = new PerformanceObserver((l) => {
			for (const e of l.getEntries())
				longest = Math.max(longest, e.duration);
		});
		po.observe({ type: 'longtask' });
		const end = last + ms;
		function frame(t) {
			worst = Math.max(worst, t - last);
			if (t - last > 34)
				slow.push([Math.round(last), Math.round(t - last), performance.getEntriesByType('resource')
					.filter((e) => e.startTime > last - 300 && e.startTime < t).map((e) => e.name.replace(/.*\/api\/v1\//, '') + '@' + Math.round(e.startTime))]);
			last = t;
			if (t < end)
				requestAnimationFrame(frame);
			else {
				po.disconnect();
				done({ worst, longest, slow });
			}
		}
		requestAnimationFrame(frame);
	}), IDLE_S * 1000);
	await cdp.detach();
	// Scroll to the end: the last task's row is drawn, the first is not.
	const scrolled = await page.evaluate(async () => {
		const box = document.querySelector('[data-testid=grid-box]');
		box.scrollTop = box.scrollHeight;
		await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		const rows = [...document.querySelectorAll('[data-testid=dag-grid] tr[data-row]')].map((r) => Number(r.dataset.row));
		return { first: Math.min(...rows), last: Math.max(...rows), count: rows.length };
	});
	if (process.env.SHOT)
		await page.screenshot({ path: process.env.SHOT, fullPage: true });
	const tasks = await page.evaluate(() => Number(document.querySelector('[data-testid=dag-grid]').getAttribute('aria-rowcount')) - 1);
	if (process.env.SLOW)
		console.error(JSON.stringify(idle.slow));
	console.log(JSON.stringify({ visible_ms: Math.round(visible), ...dom,
		frame_max_ms: Math.round(idle.worst * 10) / 10, longtask_ms: Math.round(idle.longest),
		idle_s: IDLE_S, idle_bytes: bytes, idle_requests: requests,
		bytes_per_min: Math.round(bytes * 60 / IDLE_S), tasks,
		scrolled: scrolled.last === tasks - 1 && scrolled.first > 0, rows_drawn: scrolled.count }));
} finally {
	await browser.close();
}
