// SPDX-License-Identifier: MIT
// dashboard.test.mjs - browser tests of kiln's web dashboard (web/).
//
// Starts a real cluster (a master and workers w1 and w2, as the
// integration tests in tests/integration/lib.sh do) with two dashboard
// users, then drives Debian's chromium through playwright-core: log in,
// watch the cluster, trigger example_chain and follow it in the grid, open
// a task's log, the other pages, log out, what a viewer may not do, and a
// wrong password.  A screenshot of every page goes to
// tests/output/screenshots/ ($KILN_SCREENSHOTS).
//
// Environment (set by tests/integration/browser.sh): KILN, the binary;
// KILN_PLUGIN_BUILD, built plugins; KILN_SRCDIR, the source tree.
// Run: node dashboard.test.mjs   (KEEP=1 keeps the cluster's files)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRCDIR = process.env.KILN_SRCDIR || path.resolve(HERE, '../..');
const KILN = process.env.KILN || path.join(SRCDIR, 'kiln');
const PLUGINS = process.env.KILN_PLUGIN_BUILD || path.join(SRCDIR, 'plugins/lib');
const SHOTS = process.env.KILN_SCREENSHOTS || path.join(SRCDIR, 'tests/output/screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const USERS = {
	admin: { name: 'ada', password: 'correct horse battery', role: 'admin' },
	viewer: { name: 'vic', password: 'viewer staple 42', role: 'viewer' },
};
const TIMEOUT = 20000;

let T, URL_, procs = [], browser, failed = false;
const nodes = {};       // node name -> its process (the latest started)
let probeCookie = '';   // a viewer session of the test itself, for probe()
let hung = false;
const pageErrors = [];

/* ------------------------------------------------------------ cluster */

/* The cluster must not outlive the test, however it ends: killed by the
 * time limit of browser.sh (SIGTERM), interrupted, or stuck past its own
 * deadline. */
function killCluster() {
	for (const p of procs)
		if (p.exitCode === null)
			p.kill('SIGKILL');
}
function abandon(why) {
	console.error(`browser tests: ${why}; cluster stopped`);
	killCluster();
	if (T && !process.env.KEEP)
		fs.rmSync(T, { recursive: true, force: true });
	process.exit(1);
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
	process.on(sig, () => abandon(sig));
process.on('exit', killCluster);
setTimeout(() => abandon('over 9 minutes'), 540000).unref();

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/* `kiln passwd` reads the password from stdin when it is not a terminal
 * and prints its argon2id hash. */
function passwd(pw) {
	const r = spawnSync(KILN, ['passwd'], { input: pw + '\n', encoding: 'utf8' });
	if (r.status !== 0)
		throw new Error(`kiln passwd failed (${r.status}): ${r.stderr || r.stdout}`);
	const hash = r.stdout.trim().split('\n').pop().trim();
	assert.match(hash, /^\$argon2id\$/, 'kiln passwd prints an argon2id hash');
	return hash;
}

function startNode(name) {
	const log = fs.openSync(path.join(T, `${name}.log`), 'a');
	const p = spawn(KILN, ['start', '-c', path.join(T, 'cluster.yaml'), '--node', name],
		{ stdio: ['ignore', log, log] });
	fs.closeSync(log);
	procs.push(p);
	nodes[name] = p;
	return p;
}

async function api(p) {
	const r = await fetch(URL_ + p, { signal: AbortSignal.timeout(3000) });
	return r.ok ? r.json() : null;
}

/* GET as the test's own viewer session. */
async function apiViewer(p) {
	const r = await fetch(URL_ + p, { headers: { Cookie: probeCookie }, signal: AbortSignal.timeout(3000) });
	return r.ok ? r.json() : null;
}

async function until(what, fn, ms = TIMEOUT) {
	const end = Date.now() + ms;
	for (;;) {
		try {
			if (await fn())
				return;
		} catch (e) {
			/* not yet */
		}
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

before(async () => {
	for (const f of [KILN, CHROMIUM])
		assert.ok(fs.existsSync(f), `${f} exists`);
	T = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-browser.'));
	fs.mkdirSync(path.join(T, 'plugins'));
	// The DAGs sit in T/conf/dags and the data in T/examples/data, as in
	// the source tree, so that a DAG's path relative to its own file
	// (../../examples/data/X.csv) finds the copy.
	const DAGS = path.join(T, 'conf/dags');
	fs.mkdirSync(DAGS, { recursive: true });
	fs.mkdirSync(path.join(T, 'examples/data'), { recursive: true });
	for (const f of fs.readdirSync(PLUGINS).filter((x) => x.endsWith('.so')))
		fs.copyFileSync(path.join(PLUGINS, f), path.join(T, 'plugins', f));
	fs.copyFileSync(path.join(SRCDIR, 'conf/dags/example_chain.yaml'), path.join(DAGS, 'example_chain.yaml'));
	// A driver with distributed stages for the job page's stage view
	// (tests/plugins/stagesum, built by make check).
	const stagesum = path.join(process.env.KILN_TEST_PLUGINS || path.join(SRCDIR, 'tests/plugins/.libs'), 'stagesum.so');
	if (fs.existsSync(stagesum))
		fs.copyFileSync(stagesum, path.join(T, 'plugins', 'stagesum.so'));
	// The model benchmark of the Models page test (skipped until it exists).
	if (fs.existsSync(path.join(SRCDIR, 'conf/dags/breast_cancer_models.yaml'))) {
		fs.copyFileSync(path.join(SRCDIR, 'conf/dags/breast_cancer_models.yaml'), path.join(DAGS, 'breast_cancer_models.yaml'));
		fs.copyFileSync(path.join(SRCDIR, 'examples/data/breast_cancer.csv'), path.join(T, 'examples/data/breast_cancer.csv'));
	}
	// A DAG with typed params for the trigger form, and a description
	// that would run script if the page ever parsed API text as HTML.
	fs.writeFileSync(path.join(DAGS, 'params_demo.yaml'), `id: params_demo
description: "<img src=x onerror=\\"window.__xss=1\\"> typed params"
params: { table: sales, rows: 3, dry: false, cols: [a, b] }
tasks:
  - id: only
    plugin: noop
`);
	// A task that fails both its attempts, and one downstream of it: the
	// grid's link to the last attempt, and the task actions.
	fs.writeFileSync(path.join(DAGS, 'flaky.yaml'), `id: flaky
tasks:
  - id: boom
    plugin: sleep
    params: { seconds: 0.05, fail: true }
    retries: 1
    retry_delay: 100ms
  - id: after
    plugin: noop
    depends_on: [boom]
`);
	// A 1,000-task fan-out whose root fails at once: the grid and graph
	// at scale.
	fs.writeFileSync(path.join(DAGS, 'big.yaml'), 'id: big\ntasks:\n  - id: root\n    plugin: sleep\n' +
		'    params: { seconds: 0.01, fail: true }\n' +
		Array.from({ length: 999 }, (_, i) => `  - { id: t${i + 1}, plugin: noop, depends_on: [root] }\n`).join(''));
	// A chain of 10 tasks: the graph draws c2 to c9 as one segment node.
	fs.writeFileSync(path.join(DAGS, 'chain10.yaml'), 'id: chain10\ntasks:\n  - { id: c1, plugin: noop }\n' +
		Array.from({ length: 9 }, (_, i) => `  - { id: c${i + 2}, plugin: noop, depends_on: [c${i + 1}] }\n`).join(''));
	// A task that fails and waits 20 s for its retry: the jobs page's
	// "attempt 2 of 2, waiting".
	fs.writeFileSync(path.join(DAGS, 'retrywait.yaml'), `id: retrywait
tasks:
  - id: again
    plugin: sleep
    params: { seconds: 0.01, fail: true }
    retries: 1
    retry_delay: 20s
`);
	const port = await freePort();
	URL_ = `http://127.0.0.1:${port}`;
	const users = Object.values(USERS).map((u) =>
		`      - name: ${u.name}\n        role: ${u.role}\n        password_hash: "${passwd(u.password)}"\n`).join('');
	fs.writeFileSync(path.join(T, 'cluster.yaml'), `cluster:
  name: browser-test
master:
  listen: 127.0.0.1
  port: ${port}
  data_dir: ${T}/master
  plugin_dir: ${T}/plugins
  dags_dir: ${DAGS}
  web_dir: ${path.join(SRCDIR, 'web')}
  heartbeat_interval: 200ms
  worker_timeout: 4s
  auth:
    secret_file: ${T}/secret
    users:
${users}data:
  read_roots: [${path.join(T, 'examples/data')}]
workers:
  - name: w1
    slots: 2
    memory: 1GiB
  - name: w2
    slots: 2
    memory: 1GiB
`);
	startNode('master');
	await until('the master', async () => (await api('/api/v1/health')) !== null);
	startNode('w1');
	startNode('w2');
	await until('two live workers', async () => (await api('/api/v1/health')).workers_alive >= 2);
	const r = await fetch(URL_ + '/api/v1/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ user: USERS.viewer.name, password: USERS.viewer.password }) });
	probeCookie = (r.headers.get('set-cookie') || '').split(';')[0];
	fs.mkdirSync(SHOTS, { recursive: true });
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
});

after(async () => {
	if (browser)
		await browser.close();
	killCluster();
	if (T && (failed || process.env.KEEP)) {
		for (const f of fs.readdirSync(T).filter((x) => x.endsWith('.log'))) {
			const lines = fs.readFileSync(path.join(T, f), 'utf8').trimEnd().split('\n');
			console.log(`---- ${f} (tail)\n${lines.slice(-25).join('\n')}`);
		}
	}
	if (T && !process.env.KEEP)
		fs.rmSync(T, { recursive: true, force: true });
	else if (T)
		console.log(`kept ${T}`);
});

/* ------------------------------------------------------------ helpers */

async function newPage() {
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	const page = await ctx.newPage();
	page.setDefaultTimeout(TIMEOUT);
	page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
	return page;
}

async function shot(page, name) {
	await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(page, who) {
	await page.goto(URL_ + '/#/cluster');
	await page.getByTestId('login-form').waitFor();
	await page.getByTestId('login-user').fill(who.name);
	await page.getByTestId('login-password').fill(who.password);
	await page.getByTestId('login-submit').click();
	await page.getByTestId('nav').waitFor();
	assert.equal(await page.getByTestId('user-name').textContent(), who.name);
	assert.equal(await page.getByTestId('user-role').textContent(), who.role);
}

/* A POST made by the page itself, with its session cookie and (if it has
 * one) its CSRF token: what a curious viewer could do in the console. */
function forcedPost(page, p, withCsrf = true) {
	return page.evaluate(async ([p2, csrf]) => {
		const headers = { 'Content-Type': 'application/json' };
		if (csrf)
			headers['X-CSRF-Token'] = sessionStorage.getItem('kiln-csrf') || '';
		const r = await fetch(p2, { method: 'POST', headers, body: '{}', signal: AbortSignal.timeout(10000) });
		return r.status;
	}, [p, withCsrf]);
}

/* Does the master still answer a request that reads its store?  After a
 * failure, this tells a page bug from a master that stopped answering, and
 * spares the remaining tests their time-outs. */
async function probe() {
	try {
		const r = await fetch(URL_ + '/api/v1/dags/example_chain/runs?limit=1',
			{ headers: { Cookie: probeCookie }, signal: AbortSignal.timeout(3000) });
		return r.status < 500;
	} catch (e) {
		return false;
	}
}

function track(t, fn) {
	return test(t, async (tc) => {
		if (hung)
			throw new Error('not run: the master stopped answering (see master.log below)');
		try {
			await fn(tc);
		} catch (e) {
			failed = true;
			if (!(await probe())) {
				hung = true;
				throw new Error(`the master stopped answering store requests (${e.message})`);
			}
			throw e;
		}
	});
}

/* -------------------------------------------------------------- tests */

let admin;      // the admin's page, shared by the tests that follow login
let runId;

track('a wrong password is refused with the server\'s message', async () => {
	const page = await newPage();
	await page.goto(URL_ + '/');
	await page.getByTestId('login-form').waitFor();
	assert.equal(await page.getByTestId('nav').isVisible(), false, 'no navigation before login');
	await shot(page, 'login');
	await page.getByTestId('login-user').fill(USERS.admin.name);
	await page.getByTestId('login-password').fill('not the password');
	await page.getByTestId('login-submit').click();
	const msg = page.getByTestId('login-error');
	await msg.waitFor();
	assert.ok((await msg.textContent()).trim().length > 0, 'a message is shown');
	assert.equal(await page.getByTestId('nav').isVisible(), false, 'still logged out');
	await shot(page, 'login-refused');
	await page.context().close();
});

track('the admin logs in and sees two live workers', async () => {
	admin = await newPage();
	await login(admin, USERS.admin);
	assert.match(admin.url(), /#\/cluster$/);
	const alive = admin.locator('[data-testid=worker-row][data-state=alive]');
	await until('two alive worker rows', async () => (await alive.count()) === 2);
	const names = (await admin.getByTestId('worker-name').allTextContents()).map((s) => s.trim());
	assert.ok(names.some((n) => n.startsWith('w1')) && names.some((n) => n.startsWith('w2')), `workers ${names}`);
	assert.equal(await admin.getByTestId('workers-alive').textContent(), '2');
	assert.ok((await admin.getByTestId('master-version').textContent()).length > 0, 'version shown');
	const plugins = await admin.locator('[data-testid=worker-row][data-worker=w1] [data-testid=worker-plugins]').textContent();
	assert.match(plugins, /noop/);
	assert.equal(await admin.locator('[data-nav=cluster]').getAttribute('aria-current'), 'page');
	await shot(admin, 'cluster');
});

track('example_chain is triggered from the DAGs page', async () => {
	await admin.locator('[data-nav=dags]').click();
	const row = admin.locator('[data-testid=dag-row][data-dag=example_chain]');
	await row.waitFor();
	assert.equal((await row.getByTestId('dag-schedule').textContent()).trim(), 'manual');
	await shot(admin, 'dags');
	await row.getByTestId('dag-trigger').click();
	const dlg = admin.getByTestId('trigger-dialog');
	await dlg.waitFor();
	await shot(admin, 'dags-trigger');
	await dlg.getByTestId('trigger-submit').click();
	await admin.waitForURL(/#\/dags\/example_chain\?run=/);
	await admin.getByTestId('dag-grid').waitFor();
	runId = decodeURIComponent(new URL(admin.url()).hash.split('run=')[1]);
	assert.match(runId, /^example_chain__manual__/);
});

track('the trigger form sends typed params, and API text is never markup', async () => {
	await admin.locator('[data-nav=dags]').click();
	const row = admin.locator('[data-testid=dag-row][data-dag=params_demo]');
	await row.waitFor();
	assert.match(await row.textContent(), /<img src=x/, 'the description is shown as text');
	assert.equal(await admin.evaluate(() => window.__xss), undefined, 'no script ran');
	await row.getByTestId('dag-trigger').click();
	const dlg = admin.getByTestId('trigger-dialog');
	await dlg.waitFor();
	assert.equal(await dlg.locator('[data-param=table]').inputValue(), 'sales');
	await dlg.locator('[data-param=table]').fill('orders');
	await dlg.locator('[data-param=rows]').fill('7');
	await dlg.locator('[data-param=dry]').check();
	await dlg.locator('[data-param=cols]').fill('not json');
	await dlg.getByTestId('trigger-submit').click();
	assert.match(await dlg.getByTestId('trigger-error').textContent(), /cols is not valid JSON/);
	await dlg.locator('[data-param=cols]').fill('["x"]');
	await dlg.getByTestId('trigger-submit').click();
	await admin.waitForURL(/#\/dags\/params_demo\?run=/);
	const run = decodeURIComponent(new URL(admin.url()).hash.split('run=')[1]);
	const conf = await admin.evaluate(async (r) =>
		(await (await fetch('/api/v1/runs/' + encodeURIComponent(r), { signal: AbortSignal.timeout(10000) })).json()).conf, run);
	assert.deepEqual(conf, { table: 'orders', rows: 7, dry: true, cols: ['x'] });
});

track('its tasks turn to success in the grid', async () => {
	await admin.goto(`${URL_}/#/dags/example_chain?run=${encodeURIComponent(runId)}`);
	const cells = admin.locator(`[data-testid=grid-cell][data-run="${runId}"]`);
	await until('four grid cells', async () => (await cells.count()) === 4);
	await until('every task of the run succeeded', async () => {
		const states = await cells.evaluateAll((els) => els.map((e) => e.dataset.state));
		return states.every((s) => s === 'success');
	}, 30000);
	const tasks = await cells.evaluateAll((els) => els.map((e) => e.dataset.task));
	assert.deepEqual(tasks, ['extract', 'transform', 'load', 'cleanup'], 'rows in topological order');
	// The graph follows the selected run; the durations show every task.
	const nodes = admin.locator('[data-testid=graph-node]');
	await until('the graph is all green', async () => {
		const st = await nodes.evaluateAll((els) => els.map((e) => e.dataset.state));
		return st.length === 4 && st.every((s) => s === 'success');
	});
	// Layered left to right: each task of the chain is right of its upstream.
	const xs = await nodes.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().x));
	for (let i = 1; i < xs.length; i++)
		assert.ok(xs[i] > xs[i - 1], 'graph layered left to right');
	assert.equal(await admin.locator('[data-testid=durations] [data-testid=duration-row]').count(), 4);
	await shot(admin, 'dag');
});

track('a task\'s log opens from the grid', async () => {
	await admin.locator(`[data-testid=grid-cell][data-run="${runId}"][data-task=transform]`).click();
	await admin.getByTestId('ti-log').click();
	await admin.waitForURL(/#\/jobs\/\d+/);
	await admin.getByTestId('job-state').waitFor();
	assert.equal(await admin.getByTestId('job-state').getAttribute('data-state'), 'succeeded');
	assert.equal(await admin.getByTestId('job-plugin').textContent(), 'sleep');
	assert.match(await admin.getByTestId('job-params').textContent(), /"seconds"/);
	await until('the sleep plugin\'s log', async () => /sleep: woke after/.test(await admin.getByTestId('job-log').textContent()));
	assert.ok(await admin.getByTestId('attempt-row').count() >= 1, 'an attempts table');
	await shot(admin, 'job');
});

let flakyRun;

track('a task that failed twice opens its last attempt from the grid', async () => {
	const r = await adminPost('/api/v1/dags/flaky/trigger', {});
	assert.equal(r.status, 201);
	flakyRun = r.body.run_id;
	await admin.goto(`${URL_}/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`);
	const cell = admin.locator(`[data-testid=grid-cell][data-run="${flakyRun}"][data-task=boom]`);
	await until('boom failed', async () => (await cell.getAttribute('data-state')) === 'failed', 30000);
	// Once nothing changes, the poll of the grid's changes since its
	// cursor is a 304 (the DAG document is fetched again every 15 s, or
	// when the grid changed).
	let seen = 0;
	const onResp = (r) => {
		if (/\/api\/v1\/dags\/flaky\/grid\?.*since=/.test(r.url()) && r.status() === 304)
			seen++;
	};
	admin.on('response', onResp);
	await until('a 304 from the grid\'s changes', async () => seen > 0, 10000);
	admin.off('response', onResp);
	await cell.click();
	assert.match(await admin.getByTestId('ti-log').getAttribute('href'), /\?attempt=2$/);
	await admin.getByTestId('ti-log').click();
	await until('attempt 2 of 2', async () => (await admin.getByTestId('job-attempt').textContent()) === '2 of 2');
	assert.equal(await admin.locator('[data-testid=attempt-row].selected').getAttribute('data-attempt'), '2');
	await until('the log of attempt 2', async () =>
		/attempt 2/.test(await admin.locator('#log-h').textContent()) &&
		/woke after/.test(await admin.getByTestId('job-log').textContent()));
});

/* Run ACTION from the open popup or job page, check the tasks the
 * confirmation lists, and confirm. */
async function act(action, tasks, name) {
	await admin.getByTestId(`action-${action}`).click();
	const dlg = admin.getByTestId('action-dialog');
	await dlg.waitFor();
	assert.deepEqual(await dlg.getByTestId('action-task').allTextContents(), tasks);
	if (name)
		await shot(admin, name);
	await dlg.getByTestId('action-confirm').click();
	await dlg.waitFor({ state: 'detached' });
}

async function flakyTis() {
	const r = await apiViewer('/api/v1/runs/' + encodeURIComponent(flakyRun));
	return { run: r.state, ...Object.fromEntries(r.tasks.map((t) => [t.task, t.state])) };
}

track('task actions: mark success, mark failed, clear with downstream', async () => {
	await admin.goto(`${URL_}/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`);
	const cell = (t) => admin.locator(`[data-testid=grid-cell][data-run="${flakyRun}"][data-task=${t}]`);
	await until('after upstream_failed', async () => (await cell('after').getAttribute('data-state')) === 'upstream_failed');
	// Mark success: the task, and the downstream task it had failed runs.
	await cell('boom').click();
	await act('mark-success', ['boom', 'after'], 'dag-task-confirm');
	await until('the run succeeded', async () => (await flakyTis()).run === 'success');
	assert.deepEqual(await flakyTis(), { run: 'success', boom: 'success', after: 'success' });
	await until('the grid shows it', async () => (await cell('after').getAttribute('data-state')) === 'success');
	// Mark failed, from the job page of the task.
	await cell('after').click();
	await admin.getByTestId('ti-log').click();
	await admin.getByTestId('job-state').waitFor();
	await act('mark-failed', ['after']);
	await until('the run failed', async () => (await flakyTis()).run === 'failed');
	assert.equal((await flakyTis()).after, 'failed');
	const bad = await adminPost(`/api/v1/runs/${encodeURIComponent(flakyRun)}/tasks/boom/mark`, { state: 'bogus' });
	assert.equal(bad.status, 400);
	assert.match(bad.body.error, /^state: /);
	// Clear with downstream: both run again (boom fails again).
	await admin.goto(`${URL_}/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`);
	await cell('boom').click();
	await act('clear-downstream', ['boom', 'after']);
	await until('boom ran again and failed', async () => {
		const s = await flakyTis();
		return s.boom === 'failed' && s.after === 'upstream_failed' && s.run === 'failed';
	});
	await shot(admin, 'dag-actions');
});

track('the jobs page lists and filters jobs', async () => {
	await admin.locator('[data-nav=jobs]').click();
	const rows = admin.getByTestId('job-row');
	await until('the run\'s four jobs', async () => (await rows.count()) >= 4);
	await shot(admin, 'jobs');
	await admin.getByTestId('filter-plugin').selectOption('sleep');
	await admin.waitForURL(/plugin=sleep/);
	await until('only sleep jobs', async () => {
		const p = await admin.locator('[data-testid=job-plugin]').allTextContents();
		return p.length >= 1 && p.every((x) => x === 'sleep');
	});
});

/* The total the jobs page shows ("N jobs"), as a number. */
async function shownTotal(page) {
	const t = await page.getByTestId('jobs-total').textContent();
	const m = /^([\d,]+) jobs?$/.exec(t);
	return m ? Number(m[1].replace(/,/g, '')) : NaN;
}

track('jobs: DAG and run columns, filters, the total, id search and a time range', async () => {
	const rw = await adminPost('/api/v1/dags/retrywait/trigger', {});
	assert.equal(rw.status, 201);
	const all = await apiViewer('/api/v1/jobs?limit=1');
	await admin.goto(`${URL_}/#/jobs`);
	await until('the total of all jobs', async () =>
		(await shownTotal(admin)) === (await apiViewer('/api/v1/jobs?limit=1')).total);
	// The run's jobs, named by DAG and run, linked to the run's page.
	await admin.goto(`${URL_}/#/jobs?run=${encodeURIComponent(runId)}`);
	const rows = admin.getByTestId('job-row');
	await until('the run\'s 4 jobs', async () => (await shownTotal(admin)) === 4 && (await rows.count()) === 4);
	assert.deepEqual(new Set(await admin.getByTestId('job-dag').allTextContents()), new Set(['example_chain']));
	assert.deepEqual(new Set(await admin.getByTestId('job-run').allTextContents()), new Set([runId]));
	assert.equal(await admin.getByTestId('job-run').first().getAttribute('href'), `#/runs/${encodeURIComponent(runId)}`);
	await shot(admin, 'jobs-run-filter');
	// By DAG, from the filter form.
	await admin.goto(`${URL_}/#/jobs`);
	await admin.getByTestId('filter-dag').fill('flaky');
	await admin.getByTestId('filter-dag').press('Enter');
	await admin.waitForURL(/dag=flaky/);
	const flaky = await apiViewer('/api/v1/jobs?dag=flaky&limit=1');
	await until('the flaky DAG\'s jobs', async () => (await shownTotal(admin)) === flaky.total &&
		(await admin.getByTestId('job-dag').allTextContents()).every((d) => d === 'flaky'));
	// Search by id: one job.
	const id = all.jobs[0].id;
	await admin.goto(`${URL_}/#/jobs`);
	await admin.getByTestId('filter-id').fill(String(id));
	await admin.getByTestId('filter-id').press('Enter');
	await until('the one job', async () => (await shownTotal(admin)) === 1 &&
		(await rows.count()) === 1 && Number(await rows.first().getAttribute('data-job')) === id);
	assert.equal(await admin.getByTestId('jobs-total').textContent(), '1 job');
	// A time range in the future: nothing.
	await admin.goto(`${URL_}/#/jobs`);
	await admin.getByTestId('filter-since').fill('2099-01-01T00:00');
	await admin.waitForURL(/since=2099/);
	await until('no job', async () => (await shownTotal(admin)) === 0);
	assert.equal(await admin.getByTestId('jobs-empty').isVisible(), true);
	// A bad filter by hand: the API's 400 names it.
	await admin.goto(`${URL_}/#/jobs?since=yesterday`);
	await until('the error', async () => /since/.test(await admin.getByTestId('error').textContent()));
	// A retry waiting for its delay says so, with the attempt to come.
	await admin.goto(`${URL_}/#/jobs?run=${encodeURIComponent(rw.body.run_id)}`);
	const row = admin.getByTestId('job-row').first();
	await until('the retry waiting', async () => (await row.getAttribute('data-state')) === 'queued' &&
		(await row.getByTestId('job-retry').textContent()) === ' retry', 10000);
	assert.equal(await row.getByTestId('job-attempt').textContent(), 'attempt 2 of 2');
	assert.match(await row.getByTestId('job-time').textContent(), /^waiting \d/);
	await shot(admin, 'jobs-retry-waiting');
	// Its page says the same, and links its run.
	await row.getByTestId('job-link').click();
	await until('the job page', async () => /waits to retry$/.test(await admin.getByTestId('job-attempt').textContent()));
	assert.equal(await admin.getByTestId('job-attempt').textContent(), '1 of 2 done; attempt 2 waits to retry');
	assert.equal(await admin.locator('[data-testid=job-run] a').getAttribute('href'), `#/runs/${encodeURIComponent(rw.body.run_id)}`);
});

track('jobs: an admin cancels selected jobs; a viewer can neither select nor cancel', async () => {
	const ids = [];
	for (let i = 0; i < 2; i++)
		ids.push((await adminPost('/api/v1/jobs', { plugin: 'sleep', params: { seconds: 30 } })).body.id);
	await admin.goto(`${URL_}/#/jobs?plugin=sleep`);
	for (const id of ids) {
		const row = admin.locator(`[data-testid=job-row][data-job="${id}"]`);
		await row.waitFor();
		await row.getByTestId('job-select').check();
	}
	assert.equal(await admin.getByTestId('jobs-cancel').textContent(), 'Cancel 2 selected');
	await admin.getByTestId('jobs-cancel').click();
	await admin.getByTestId('cancel-dialog').waitFor();
	assert.deepEqual(await admin.getByTestId('cancel-job').allTextContents(), ids.map((i) => `job ${i}`));
	await shot(admin, 'jobs-cancel-dialog');
	await admin.getByTestId('cancel-confirm').click();
	await until('both cancelled', async () => {
		for (const id of ids)
			if ((await admin.locator(`[data-testid=job-row][data-job="${id}"]`).getAttribute('data-state')) !== 'cancelled')
				return false;
		return true;
	});
	assert.match(await admin.getByTestId('jobs-cancel-result').textContent(), /^2 cancelled/);
	const page = await newPage();
	await login(page, USERS.viewer);
	await page.goto(`${URL_}/#/jobs`);
	await page.getByTestId('job-row').first().waitFor();
	assert.equal(await page.getByTestId('job-select').count(), 0, 'no selection for a viewer');
	assert.equal(await page.getByTestId('jobs-cancel').count(), 0, 'no cancel button for a viewer');
	assert.equal(await forcedPost(page, '/api/v1/jobs/cancel'), 403, 'a viewer\'s bulk cancel is refused');
	await page.context().close();
});

track('the run page: conf, start, end, duration and a Gantt bar per task', async () => {
	const r = await adminPost('/api/v1/dags/params_demo/trigger', { conf: { rows: 7 } });
	assert.equal(r.status, 201, JSON.stringify(r.body));
	await until('the params_demo run done', async () => (await apiViewer(`/api/v1/runs/${encodeURIComponent(r.body.run_id)}`)).state === 'success');
	await admin.goto(`${URL_}/#/runs/${encodeURIComponent(r.body.run_id)}`);
	await until('its conf', async () => /"rows": 7/.test(await admin.getByTestId('run-conf').textContent()));
	// example_chain's run, reached from its DAG page.
	await admin.goto(`${URL_}/#/dags/example_chain?run=${encodeURIComponent(runId)}`);
	await admin.getByTestId('run-details').click();
	await admin.waitForURL(/#\/runs\//);
	assert.equal(await admin.getByTestId('run-id').textContent(), runId);
	await until('the run\'s facts', async () => (await admin.locator('[data-testid=run-state] .badge').textContent()) === 'success');
	for (const f of ['run-created', 'run-start', 'run-end'])
		assert.match(await admin.getByTestId(f).textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/, f);
	assert.match(await admin.getByTestId('run-duration').textContent(), /\d/);
	const tasks = (await apiViewer(`/api/v1/runs/${encodeURIComponent(runId)}`)).tasks.map((t) => t.task);
	await until('a Gantt row per task', async () => (await admin.getByTestId('gantt-row').count()) === tasks.length);
	assert.deepEqual(await admin.locator('[data-testid=gantt-row]').evaluateAll((e) => e.map((x) => x.dataset.task)), tasks);
	assert.equal(await admin.getByTestId('gantt-bar').count(), tasks.length, 'one running bar per task');
	assert.equal(await admin.getByTestId('gantt-queued').count(), tasks.length, 'one queued bar per task');
	// The chain's tasks ran one after the other: each bar starts after the previous one's.
	const xs = await admin.locator('[data-testid=gantt-bar]').evaluateAll((e) => e.map((x) => Number(x.getAttribute('x'))));
	assert.ok(xs.every((x, i) => i === 0 || x >= xs[i - 1]), `bars in order: ${xs}`);
	await shot(admin, 'run');
});

track('older runs are reachable through the runs pager', async () => {
	const first = (await adminPost('/api/v1/dags/params_demo/trigger', {})).body.run_id;
	for (let i = 0; i < 25; i++)
		assert.equal((await adminPost('/api/v1/dags/params_demo/trigger', {})).status, 201);
	await admin.goto(`${URL_}/#/dags/params_demo`);
	await admin.getByTestId('all-runs').click();
	await admin.waitForURL(/#\/dags\/params_demo\/runs$/);
	const rows = admin.getByTestId('run-row');
	await until('a first page of 25 runs', async () => (await rows.count()) === 25);
	assert.equal(await admin.locator(`[data-testid=run-row][data-run="${first}"]`).count(), 0, 'the oldest is not on page 1');
	await admin.getByTestId('runs-older').click();
	const old = admin.locator(`[data-testid=run-row][data-run="${first}"]`);
	await old.waitFor();
	await shot(admin, 'runs-page-2');
	await old.getByTestId('run-link').click();
	await until('the old run\'s page', async () => (await admin.getByTestId('run-id').textContent()) === first);
});

/* DAG versions (issue 15 item 6, issue 16 item 3): a DAG edited between
 * two runs; the first run's page names version 1, marks it not current
 * and links to its diff with the current one, drawn as text. */
track('the run page names its DAG version and links to the diff', async () => {
	const file = path.join(T, 'conf/dags/versioned.yaml');
	const dag = (tag) => `id: versioned\nparams: { tag: ${tag} }\ntasks:\n  - id: only\n    plugin: noop\n`;
	const nver = async () => ((await apiViewer('/api/v1/dags/versioned/versions')) || { versions: [] }).versions.length;
	fs.writeFileSync(file, dag('one'));
	await until('version 1', async () => (await nver()) === 1);
	const r = await adminPost('/api/v1/dags/versioned/trigger', {});
	assert.equal(r.status, 201, JSON.stringify(r.body));
	const rid = encodeURIComponent(r.body.run_id);
	await until('the run done', async () => (await apiViewer(`/api/v1/runs/${rid}`)).state === 'success');
	await new Promise((res) => setTimeout(res, 1100));   // a new mtime
	fs.writeFileSync(file, dag('"<b>two</b>"'));
	await until('version 2', async () => (await nver()) === 2);
	await admin.goto(`${URL_}/#/runs/${rid}`);
	const v = admin.getByTestId('dag-version');
	await until('the run\'s version', async () => (await v.getAttribute('data-version')) === '1');
	assert.equal(await v.getAttribute('data-current'), 'no');
	assert.match(await admin.getByTestId('dag-version-old').textContent(), /not current \(v2\)/);
	assert.match(await v.textContent(), /^v1 · [0-9a-f]{12} · \d{4}-/);
	await admin.getByTestId('dag-version-diff').click();
	await admin.waitForURL(/#\/dags\/versioned\/diff\?from=1&to=2$/);
	const diff = admin.getByTestId('dag-diff');
	await diff.waitFor();
	assert.deepEqual(await diff.locator('.dl.del').allTextContents(), ['-params: { tag: one }']);
	assert.deepEqual(await diff.locator('.dl.add').allTextContents(), ['+params: { tag: "<b>two</b>" }'],
		'the diff is text, never markup');
	assert.equal(await diff.locator('b').count(), 0);
	await shot(admin, 'dag-diff');
	await admin.goto(`${URL_}/#/dags/versioned`);
	await until('the DAG\'s current version', async () =>
		(await admin.getByTestId('dag-version').getAttribute('data-version')) === '2');
	assert.equal(await admin.getByTestId('dag-version').getAttribute('data-current'), 'yes');
});

track('a worker page: slots, memory, plugins, heartbeats, running and recent jobs', async () => {
	const r = await adminPost('/api/v1/jobs', { plugin: 'sleep', params: { seconds: 3 } });
	let w = null;
	await until('the job running', async () => {
		const j = await apiViewer(`/api/v1/jobs/${r.body.id}`);
		w = j.worker;
		return j.state === 'running';
	});
	await admin.goto(`${URL_}/#/cluster`);
	await admin.locator(`[data-testid=worker-row][data-worker=${w}] [data-testid=worker-link]`).click();
	await admin.waitForURL(new RegExp(`#/workers/${w}$`));
	assert.equal(await admin.getByTestId('worker-title').textContent(), w);
	await admin.locator(`[data-testid=worker-running-row][data-job="${r.body.id}"]`).waitFor();
	assert.match(await admin.getByTestId('worker-slots').textContent(), /of 2$/);
	assert.match(await admin.getByTestId('worker-memory').textContent(), /of 1(\.0)? GiB$/);
	assert.ok((await admin.locator('[data-testid=worker-plugins] li').allTextContents()).some((p) => /^sleep /.test(p)));
	await until('heartbeats', async () => (await admin.getByTestId('heartbeat').count()) >= 5);
	const hb = (await apiViewer(`/api/v1/workers/${w}`)).heartbeats;
	assert.ok(hb.length >= 5 && hb.length <= 32, `${hb.length} heartbeats kept`);
	assert.ok(hb.every((t, i) => i === 0 || t >= hb[i - 1]), 'oldest first');
	assert.ok((await admin.getByTestId('worker-jobs-row').count()) >= 1, 'recent jobs');
	// Its disk cache, as it reports it, and its budget.
	await until('the cache reported', async () =>
		/^[\d.]+ [KMGT]?i?B in \d+ files? of [\d.]+ [KMGT]?i?B$/.test((await admin.getByTestId('worker-cache').textContent()).trim()));
	await shot(admin, 'worker');
	assert.equal(await apiViewer('/api/v1/workers/nope'), null, 'an unknown worker is 404');
});

/* POST from the admin's page with its session and CSRF token. */
function adminPost(p, body) {
	return admin.evaluate(async ([p2, b]) => {
		const r = await fetch(p2, { method: 'POST', body: JSON.stringify(b), signal: AbortSignal.timeout(30000), headers: {
			'Content-Type': 'application/json', 'X-CSRF-Token': sessionStorage.getItem('kiln-csrf') } });
		return { status: r.status, body: await r.json() };
	}, [p, body]);
}

track('a running job\'s log tails live', async () => {
	const r = await adminPost('/api/v1/jobs', { plugin: 'sleep', params: { seconds: 4 } });
	assert.equal(r.status, 201);
	await admin.goto(`${URL_}/#/jobs/${r.body.id}`);
	await until('the job running', async () =>
		(await admin.getByTestId('job-state').getAttribute('data-state')) === 'running');
	await until('the first log line while it runs', async () =>
		/sleep: sleeping 4 s/.test(await admin.getByTestId('job-log').textContent()));
	assert.equal(await admin.getByTestId('job-state').getAttribute('data-state'), 'running',
		'the line arrived before the job finished');
	assert.match(await admin.getByTestId('log-state').textContent(), /live/);
	await shot(admin, 'job-running');
	await until('the job succeeded', async () =>
		(await admin.getByTestId('job-state').getAttribute('data-state')) === 'succeeded', 15000);
	await until('the last log line', async () => /woke after/.test(await admin.getByTestId('job-log').textContent()));
});

/* The job page of the test above, its log ended: sleep's two lines hold
 * "sleep" three times or more. */
track('the log viewer finds, steps through, wraps, numbers and downloads', async () => {
	const id = new URL(admin.url()).hash.match(/^#\/jobs\/(\d+)/)[1];
	const text = await admin.evaluate(async (p) => (await fetch(p, { signal: AbortSignal.timeout(10000) })).text(),
		`/api/v1/jobs/${id}/log?attempt=1`);
	const n = (text.match(/sleep/gi) || []).length;
	assert.ok(n >= 3, `"sleep" ${n} times in the log`);
	const log = admin.getByTestId('job-log');
	const lines = log.locator('.line');
	const nlines = text.replace(/\n$/, '').split('\n').length;
	await until('the log\'s lines', async () => (await lines.count()) === nlines);
	assert.deepEqual(await lines.evaluateAll((els) => els.map((e) => e.dataset.n)),
		Array.from({ length: nlines }, (_, i) => String(i + 1)), 'lines numbered from 1');
	assert.notEqual(await lines.first().evaluate((e) => getComputedStyle(e, '::before').content), 'none', 'numbers shown');
	assert.equal(await log.textContent(), text.endsWith('\n') ? text : text + '\n', 'no number in the text');

	await admin.getByLabel('Find').fill('SLEEP');
	const marks = log.locator('mark');
	assert.equal(await marks.count(), n, 'every match highlighted');
	assert.ok((await marks.allTextContents()).every((m) => m.toLowerCase() === 'sleep'));
	const current = () => marks.evaluateAll((els) => els.findIndex((e) => e.classList.contains('current')));
	assert.equal(await admin.getByTestId('log-count').textContent(), `1 of ${n}`);
	assert.equal(await current(), 0);
	await admin.getByTestId('log-next').click();
	assert.equal(await current(), 1);
	assert.equal(await admin.getByTestId('log-count').textContent(), `2 of ${n}`);
	await admin.getByLabel('Find').press('Enter');
	assert.equal(await current(), 2, 'Enter steps to the next');
	await admin.getByLabel('Find').press('Shift+Enter');
	await admin.getByTestId('log-prev').click();
	assert.equal(await current(), 0, 'Shift+Enter and Previous step back');
	await admin.getByTestId('log-prev').click();
	assert.equal(await current(), n - 1, 'and wrap around');
	await shot(admin, 'job-log-search');
	await admin.getByLabel('Find').fill('no such text');
	assert.equal(await marks.count(), 0);
	assert.equal(await admin.getByTestId('log-count').textContent(), 'no matches');
	await admin.getByLabel('Find').fill('');

	const wrap = admin.getByTestId('log-wrap');
	const wrapped = () => log.evaluate((e) => e.classList.contains('wrap'));
	assert.equal(await wrapped(), true, 'wrapped by default');
	await wrap.click();
	assert.equal(await wrapped(), false);
	assert.equal(await wrap.getAttribute('aria-pressed'), 'false');
	assert.equal(await log.evaluate((e) => getComputedStyle(e).whiteSpace), 'pre');
	await wrap.click();
	assert.equal(await wrapped(), true);

	const link = admin.getByTestId('log-download');
	const file = `job-${id}-attempt-1.log`;
	assert.equal(await link.getAttribute('download'), file);
	const [dl] = await Promise.all([admin.waitForEvent('download'), link.click()]);
	assert.equal(dl.suggestedFilename(), file);
	assert.match(await link.getAttribute('href'), /^blob:/);
	assert.equal(fs.readFileSync(await dl.path(), 'utf8'), text, 'the download is the log');
});

track('the jobs page stays fast with 10,000 jobs', async () => {
	const jobs = Array.from({ length: 10000 }, () => ({ plugin: 'noop' }));
	const r = await adminPost('/api/v1/jobs/batch', { jobs });
	assert.equal(r.status, 201);
	assert.equal(r.body.ids.length, 10000);
	const t0 = Date.now();
	await admin.goto(`${URL_}/#/jobs`);
	const rows = admin.getByTestId('job-row');
	await until('a first page', async () => (await rows.count()) === 50);
	const first = Number(await rows.first().getAttribute('data-job'));
	assert.ok(first >= Math.max(...r.body.ids), 'newest first');
	await admin.getByTestId('page-older').click();
	await until('the second page', async () => Number(await rows.first().getAttribute('data-job')) === first - 50);
	await admin.getByTestId('page-newer').click();
	await until('back to the first page', async () => Number(await rows.first().getAttribute('data-job')) === first);
	const ms = Date.now() - t0;
	assert.ok(ms < 5000, `loading and paging took ${ms} ms`);
	// Polling keeps the rows: an element survives a refresh.
	const el = await rows.first().elementHandle();
	await admin.waitForTimeout(2500);
	assert.equal(await el.evaluate((e) => e.isConnected), true, 'rows are updated in place');
});

track('the plugins page lists the loaded plugins', async () => {
	await admin.locator('[data-nav=plugins]').click();
	await admin.locator('[data-testid=plugin-row][data-plugin=noop]').waitFor();
	await admin.locator('[data-testid=plugin-row][data-plugin=sleep]').waitFor();
	assert.equal(await admin.getByTestId('plugin-worker').count(), 2);
	await shot(admin, 'plugins');
});

track('the model leaderboard of breast_cancer_models', async (tc) => {
	if (!fs.existsSync(path.join(SRCDIR, 'conf/dags/breast_cancer_models.yaml'))) {
		tc.skip('conf/dags/breast_cancer_models.yaml is not there yet');
		return;
	}
	await admin.locator('[data-nav=dags]').click();
	const row = admin.locator('[data-testid=dag-row][data-dag=breast_cancer_models]');
	await row.waitFor();
	await row.getByTestId('dag-trigger').click();
	const dlg = admin.getByTestId('trigger-dialog');
	await dlg.waitFor();
	await dlg.getByTestId('trigger-submit').click();
	await admin.waitForURL(/#\/dags\/breast_cancer_models\?run=/);
	const run = decodeURIComponent(new URL(admin.url()).hash.split('run=')[1]);
	// Training three models with 5-fold cross-validation takes a while;
	// a failed task fails the test at once, with its error.
	let job = 0, broken = null;
	await until('the benchmark task succeeded', async () => {
		const r = await admin.evaluate(async (id) =>
			(await fetch('/api/v1/runs/' + encodeURIComponent(id), { signal: AbortSignal.timeout(10000) })).json(), run);
		const tis = r.tasks || [];
		broken = tis.find((t) => ['failed', 'upstream_failed'].includes(t.state)) || null;
		const ti = tis.find((t) => t.task === 'benchmark');
		job = ti && ti.state === 'success' ? ti.job_id : 0;
		return job > 0 || broken !== null;
	}, 120000);
	assert.equal(broken, null, broken ? `task ${broken.task} ${broken.state}: ${broken.error || ''}` : '');
	await admin.locator('[data-nav=models]').click();
	await admin.waitForURL(/#\/models$/);
	const table = admin.getByTestId('leaderboard-table');
	await table.waitFor();
	// The newest leaderboard is shown by default: this run's.
	assert.match(await admin.getByTestId('leaderboard-title').textContent(), new RegExp(`job ${job}\\b`));
	assert.equal(await admin.locator(`[data-testid=models-row][data-job="${job}"]`).count(), 1, 'the run is listed');
	const rows = table.getByTestId('leaderboard-row');
	assert.equal(await rows.count(), 3);
	const models = await rows.evaluateAll((els) => els.map((e) => e.dataset.model));
	assert.deepEqual([...models].sort(), ['forest', 'logreg', 'naive_bayes']);
	assert.equal(await table.locator('tr.best').count(), 1, 'one best row');
	assert.equal(await table.locator('tr.best').getAttribute('data-model'), models[0], 'the best is ranked first');
	assert.match(await rows.first().textContent(), /±/, 'metrics as mean ± std');
	assert.ok(await admin.getByTestId('score-chart').isVisible(), 'score chart');
	assert.ok(await admin.locator('[data-testid=score-chart] circle.fold-dot').count() >= 3, 'fold dots');
	assert.ok(await admin.getByTestId('roc-chart').isVisible(), 'ROC curve');
	assert.match(await admin.getByTestId('roc-chart').getAttribute('aria-label'), /AUC [01]\.\d{3}/);
	assert.equal(await admin.getByTestId('forecast-chart').count(), 0, 'no forecast for a classifier');
	assert.equal(await admin.locator('[data-nav=models]').getAttribute('aria-current'), 'page');
	await shot(admin, 'models');
});

track('a frozen, then killed worker is late, then dead, and the cluster degraded', async () => {
	await admin.locator('[data-nav=cluster]').click();
	const row = admin.locator('[data-testid=worker-row][data-worker=w2]');
	await until('w2 alive', async () => (await row.getAttribute('data-state')) === 'alive');
	assert.equal(await admin.locator('[data-testid=health-status] .badge').textContent(), 'ok');
	const pid = nodes.w2.pid;
	process.kill(pid, 'SIGSTOP');
	// Heartbeat 200 ms: late past 400 ms, dead past worker_timeout (4 s).
	await until('w2 shown late', async () => (await row.getAttribute('data-state')) === 'late', 6000);
	const late = await api('/api/v1/health');
	assert.equal(late.status, 'degraded');
	assert.ok(late.problems.some((p) => p.worker === 'w2' && ['late', 'dead'].includes(p.state)), JSON.stringify(late));
	await shot(admin, 'cluster-late');
	process.kill(pid, 'SIGKILL');
	await until('w2 shown dead', async () => (await row.getAttribute('data-state')) === 'dead', 10000);
	assert.doesNotMatch(await row.getByTestId('worker-slots').textContent(), /free/, 'a dead worker offers no slots');
	assert.equal(await admin.locator('[data-testid=health-status] .badge').textContent(), 'degraded');
	assert.match(await admin.locator('[data-testid=health-problem][data-worker=w2]').textContent(), /w2 is dead/);
	const hl = await api('/api/v1/health');
	assert.equal(hl.status, 'degraded');
	assert.deepEqual(hl.problems.map((p) => [p.worker, p.state]), [['w2', 'dead']]);
	const w2 = (await apiViewer('/api/v1/workers')).workers.find((w) => w.name === 'w2');
	assert.equal(w2.slots_free, 0);
	const st = await apiViewer('/api/v1/stats');
	assert.ok(st.runs && st.runs.success >= 1 && 'failed' in st.runs, `stats.runs ${JSON.stringify(st.runs)}`);
	await shot(admin, 'cluster-dead');
	startNode('w2');
	await until('the cluster ok again', async () => (await api('/api/v1/health')).status === 'ok', 15000);
});

track('a frozen master: the page times out and greys out its stale numbers', async () => {
	const fresh = admin.getByTestId('freshness');
	await until('an update time', async () => /^Updated /.test(await fresh.textContent()));
	process.kill(nodes.master.pid, 'SIGSTOP');
	try {
		await until('the page marked stale', async () => (await admin.locator('main[data-stale]').count()) === 1, 15000);
		assert.match(await fresh.textContent(), /^Stale: .* showing data from \d/);
		assert.match(await admin.getByTestId('error').textContent(), /did not answer within/);
		await shot(admin, 'cluster-stale');
	} finally {
		process.kill(nodes.master.pid, 'SIGCONT');
	}
	await until('fresh again', async () => (await admin.locator('main[data-stale]').count()) === 0, 15000);
	await until('two live workers again', async () => (await api('/api/v1/health')).workers_alive === 2, 15000);
});

track('logging out ends the session', async () => {
	await admin.getByTestId('logout').click();
	await admin.getByTestId('login-form').waitFor();
	assert.equal(await admin.getByTestId('nav').isVisible(), false);
	// The cookie is gone too: a page that needs the API goes back to login.
	await admin.goto(URL_ + '/#/jobs');
	await admin.getByTestId('login-form').waitFor();
	const r = await admin.evaluate(async () => (await fetch('/api/v1/me', { signal: AbortSignal.timeout(10000) })).status);
	assert.equal(r, 401);
	await admin.context().close();
});

/* The grid and graph at scale (issue 16 item 1): a 1,000-task fan-out
 * whose root fails at once (so a run costs one job), run 100 times. */
track('a 1,000-task DAG with 100 runs: the grid draws only what is in view, polls only changes, the graph collapses', async () => {
	const runs = 100;
	const page = await newPage();
	await login(page, USERS.admin);
	const post = (p) => page.evaluate(async (p2) => {
		const r = await fetch(p2, { method: 'POST', body: '{}', signal: AbortSignal.timeout(30000), headers: {
			'Content-Type': 'application/json', 'X-CSRF-Token': sessionStorage.getItem('kiln-csrf') } });
		return { status: r.status, body: await r.json() };
	}, p);
	for (let i = 0; i < runs; i++)
		assert.equal((await post('/api/v1/dags/big/trigger')).status, 201);
	await until('100 finished runs', async () => {
		const r = await apiViewer('/api/v1/dags/big/runs?limit=100');
		return r.runs.length === runs && r.runs.every((x) => x.state === 'failed');
	}, 120000);
	const t0 = Date.now();
	await page.goto(`${URL_}/#/dags/big`);
	await page.locator('[data-testid=grid-cell]').first().waitFor();
	const shown = Date.now() - t0;
	const grid = page.getByTestId('dag-grid');
	assert.equal(await grid.getAttribute('aria-rowcount'), '1001', 'the grid knows every task');
	assert.equal(await grid.getAttribute('aria-colcount'), '101', 'and every run');
	await until('the graph', async () => (await page.locator('[data-testid=graph-group]').count()) > 0);
	const dom = await page.evaluate(() => document.getElementsByTagName('*').length);
	const cells = await page.locator('[data-testid=grid-cell]').count();
	console.log(`1,000 tasks x 100 runs: grid in ${shown} ms, ${dom} elements, ${cells} cells drawn`);
	assert.ok(dom < 3000, `${dom} elements in the page`);
	// The target is 500 ms; the bound is generous for a loaded machine
	// and the sanitizers (bench/grid_bench.py --browser measures it).
	assert.ok(shown < 8000, `grid shown in ${shown} ms`);
	assert.ok(cells > 100 && cells < 2000, `${cells} cells drawn`);
	// Drawn from the newest run, whose root failed and the rest not run.
	const last = await page.locator('[data-testid=grid-run]').last().getAttribute('data-run');
	assert.equal(await page.locator(`[data-testid=grid-cell][data-run="${last}"][data-task=root]`).getAttribute('data-state'), 'failed');
	// Scrolling draws other rows.
	const rows = () => page.evaluate(() => [...document.querySelectorAll('[data-testid=dag-grid] tr[data-row]')].map((r) => Number(r.dataset.row)));
	assert.equal(Math.min(...await rows()), 0);
	await page.getByTestId('grid-box').evaluate((b) => { b.scrollTop = b.scrollHeight; });
	await until('the last rows drawn', async () => Math.max(...await rows()) === 999);
	assert.ok(Math.min(...await rows()) > 900, 'the first rows are gone');
	assert.equal(await page.locator('[data-testid=grid-cell][data-task=t999]').count() > 0, true);
	// The keyboard: one tab stop, arrows move and scroll.
	const stop = page.locator('[data-testid=dag-grid] [tabindex="0"]');
	assert.equal(await stop.count(), 1, 'one tab stop, in view');
	await stop.focus();
	const focusedRow = () => page.evaluate(() => Number(document.activeElement.closest('tr').dataset.row));
	const from = await focusedRow();
	assert.ok(from > 900, `the tab stop is in view (row ${from})`);
	await page.keyboard.press('ArrowUp');
	assert.equal(await focusedRow(), from - 1, 'ArrowUp moves to the row above');
	// The graph: the 999 leaves are one group.
	assert.equal(await page.locator('[data-testid=graph-group]').first().getAttribute('data-count'), '999');
	assert.ok(await page.locator('[data-testid=graph-node]').count() <= 2);
	// Nothing changes: the changes since the cursor are none, and the
	// page's polls of them are 304s.
	const since = await page.evaluate(async () => {
		const g = await (await fetch('/api/v1/dags/big/grid?limit=100&compact=1')).json();
		const d = await (await fetch(`/api/v1/dags/big/grid?limit=100&compact=1&since=${g.cursor}`)).json();
		return { runs: g.runs.length, states: g.runs[0].states.length, cursor: g.cursor, d };
	});
	assert.equal(since.runs, 100);
	assert.equal(since.states, 1000);
	assert.deepEqual(since.d, { runs: [], cursor: since.cursor, from: since.d.from, codes: since.d.codes });
	let polls304 = 0, bodies = 0;
	const onResp = (r) => {
		if (/\/grid\?.*since=/.test(r.url())) {
			if (r.status() === 304)
				polls304++;
			else if (polls304 > 0)
				bodies++;
		}
	};
	// Long tasks while idle (the Performance API), from here on.
	await page.evaluate(() => {
		window.kilnLong = [];
		new PerformanceObserver((l) => {
			for (const e of l.getEntries())
				window.kilnLong.push(e.duration);
		}).observe({ type: 'longtask' });
	});
	page.on('response', onResp);
	await until('two polls of the changes, 304s', async () => polls304 >= 2, 15000);
	page.off('response', onResp);
	assert.equal(bodies, 0, 'no body while nothing changes');
	const long = await page.evaluate(() => window.kilnLong);
	console.log(`idle: ${long.length} long tasks, longest ${Math.round(Math.max(0, ...long))} ms`);
	// The target is 50 ms; generous here, as for the time to grid.
	assert.ok(Math.max(0, ...long) < 500, `an idle long task of ${Math.max(...long)} ms`);
	// Expanding the 999-task group draws a bounded number of its tasks,
	// each with the selected run's state, and a node for the rest.
	const group = page.locator('[data-testid=graph-group][data-kind=group]').first();
	const graphNodes = page.locator('[data-testid=graph-node]');
	assert.equal(await group.getAttribute('aria-expanded'), 'false');
	assert.equal(await group.getAttribute('role'), 'button');
	await group.click();
	await until('the group expanded', async () => (await graphNodes.count()) > 2);
	assert.equal(await group.getAttribute('aria-expanded'), 'true');
	const opened = await graphNodes.count();
	assert.ok(opened > 50 && opened <= 202, `${opened} task nodes drawn`);
	const rest = page.locator('[data-testid=graph-group][data-kind=more]');
	assert.equal(Number(await rest.getAttribute('data-count')) + opened - 1, 999, 'the rest in one node');
	const t1 = await page.locator('[data-testid=graph-node][data-task=t1]').getAttribute('data-state');
	assert.equal(t1, await page.locator(`[data-testid=grid-cell][data-run="${last}"][data-task=t999]`).getAttribute('data-state'));
	assert.notEqual(t1, 'none', 'an expanded task node has the run\'s state');
	const domOpen = await page.evaluate(() => document.getElementsByTagName('*').length);
	console.log(`the 999-task group expanded: ${opened} task nodes, ${domOpen} elements`);
	assert.ok(domOpen < 3000, `${domOpen} elements with the group expanded`);
	// A new run shows in the grid from a poll of the changes.
	const nr = (await post('/api/v1/dags/big/trigger')).body.run_id;
	await until('the new run in the grid', async () => (await page.locator(`[data-testid=grid-run][data-run="${nr}"]`).count()) === 1, 15000);
	assert.equal(await grid.getAttribute('aria-colcount'), '101', 'the oldest run left the window');
	// The group stays expanded across that poll; Enter collapses it.
	assert.equal(await group.getAttribute('aria-expanded'), 'true', 'still expanded after a poll');
	assert.equal(await graphNodes.count(), opened);
	await group.focus();
	await page.keyboard.press('Enter');
	await until('the group collapsed', async () => (await graphNodes.count()) <= 2);
	assert.equal(await group.getAttribute('aria-expanded'), 'false');
	assert.equal(await rest.count(), 0);
	assert.equal(await page.evaluate(() => document.activeElement.getAttribute('data-kind')), 'group', 'focus stays on the group');
	await shot(page, 'dag-big');
	await page.context().close();
});

track('a viewer sees no trigger button and a forced POST is refused', async () => {
	const page = await newPage();
	await login(page, USERS.viewer);
	await page.locator('[data-nav=dags]').click();
	const row = page.locator('[data-testid=dag-row][data-dag=example_chain]');
	await row.waitFor();
	assert.equal(await row.getByTestId('dag-trigger').count(), 0, 'no trigger button');
	assert.equal(await row.getByTestId('dag-pause').isDisabled(), true, 'pause switch disabled');
	await shot(page, 'dags-viewer');
	assert.equal(await forcedPost(page, '/api/v1/dags/example_chain/trigger'), 403, 'viewer POST with CSRF token');
	assert.equal(await forcedPost(page, '/api/v1/dags/example_chain/pause'), 403, 'viewer pause');
	// No task actions for a viewer, in the grid's popup or by hand.
	await page.goto(`${URL_}/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`);
	await page.locator(`[data-testid=grid-cell][data-run="${flakyRun}"][data-task=boom]`).click();
	await page.getByTestId('ti-log').waitFor();
	assert.equal(await page.getByTestId('task-actions').count(), 0, 'no task actions');
	for (const a of ['mark', 'clear'])
		assert.equal(await forcedPost(page, `/api/v1/runs/${encodeURIComponent(flakyRun)}/tasks/boom/${a}`), 403, `viewer ${a}`);
	await page.context().close();
});

/* The WCAG contrast of the text of each element matching SEL (at most 40)
 * against the first opaque background behind it, run in the page; the
 * pairs under 4.5:1 come back as strings. */
function lowContrast(page, sel) {
	return page.evaluate((sel2) => {
		const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
		const lum = ([r, g, b]) => [r, g, b].map((v) => {
			v /= 255;
			return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
		}).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
		const back = (el) => {
			for (; el; el = el.parentElement) {
				const c = rgb(getComputedStyle(el).backgroundColor);
				if (c.length === 3 || c[3] > 0)
					return c;
			}
			return [255, 255, 255];
		};
		const bad = [];
		for (const el of [...document.querySelectorAll(sel2)].filter((e) => !(e instanceof SVGElement) && e.getClientRects().length).slice(0, 40)) {
			const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(back(el));
			const r = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
			if (r < 4.5)
				bad.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 20)}" ${r.toFixed(2)}`);
		}
		return bad;
	}, sel);
}

/* Issue 16 item 6: the dark theme follows prefers-color-scheme, text keeps
 * 4.5:1 in both themes, and at 375 px the page itself never scrolls
 * sideways (wide tables scroll in their own box, the nav wraps). */
track('light and dark themes, and a 375 px wide screen', async () => {
	const page = await newPage();
	await login(page, USERS.admin);
	// The pages but the two below at 375 px, once each, without screenshots.
	await page.setViewportSize({ width: 375, height: 800 });
	await page.goto(`${URL_}/#/jobs`);
	const job = await page.getByTestId('job-link').first().getAttribute('href');
	for (const hash of ['#/cluster', '#/dags', '#/dags/flaky/runs', `#/runs/${encodeURIComponent(flakyRun)}`,
		'#/workers/w1', job, '#/plugins', '#/models']) {
		await page.goto(`${URL_}/${hash}`);
		await page.locator('main h1').first().waitFor();
		await page.waitForTimeout(400);
		const w = await page.evaluate(() => document.documentElement.scrollWidth);
		assert.ok(w <= 375, `${hash}: the page is ${w} px wide at 375 px`);
	}
	// The trigger dialog fits too (it is fixed: it cannot widen the page).
	await page.goto(`${URL_}/#/dags`);
	await page.locator('[data-testid=dag-row][data-dag=params_demo]').getByTestId('dag-trigger').click();
	const dlg = page.getByTestId('trigger-dialog');
	await dlg.waitFor();
	const box = await dlg.evaluate((d) => {
		const r = d.getBoundingClientRect();
		return { left: r.left, right: r.right, inner: d.scrollWidth - d.clientWidth };
	});
	assert.ok(box.left >= 0 && box.right <= 375 && box.inner <= 0, `the trigger dialog at 375 px: ${JSON.stringify(box)}`);
	await page.keyboard.press('Escape');
	await dlg.waitFor({ state: 'hidden' });
	const views = [
		['jobs', '/#/jobs', 'job-row'],
		['dag', `/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`, 'graph-node'],
	];
	for (const scheme of ['light', 'dark']) {
		await page.emulateMedia({ colorScheme: scheme });
		for (const [name, hash, ready] of views) {
			await page.setViewportSize({ width: 1400, height: 900 });
			await page.goto(URL_ + hash);
			await page.getByTestId(ready).first().waitFor();
			const [bg, fg] = await page.evaluate(() => {
				const s = getComputedStyle(document.body);
				const sum = (c) => c.match(/\d+/g).slice(0, 3).map(Number).reduce((a, v) => a + v, 0);
				return [sum(s.backgroundColor), sum(s.color)];
			});
			if (scheme === 'dark')
				assert.ok(bg < 150 && fg > 600, `${name}: dark background (${bg}) and light text (${fg})`);
			else
				assert.ok(bg > 600 && fg < 150, `${name}: light background (${bg}) and dark text (${fg})`);
			assert.deepEqual(await lowContrast(page, 'body, main a, .badge, .sub, thead th, .lead, h1'), [],
				`${name} ${scheme}: text under 4.5:1`);
			await shot(page, `theme-${name}-1400-${scheme}`);
			await page.setViewportSize({ width: 375, height: 800 });
			const w = await page.evaluate(() => document.documentElement.scrollWidth);
			assert.ok(w <= 375, `${name} ${scheme}: the page is ${w} px wide at 375 px`);
			await shot(page, `theme-${name}-375-${scheme}`);
		}
	}
	await page.context().close();
});

track('a POST with the session but without the CSRF token is refused', async () => {
	const page = await newPage();
	await login(page, USERS.admin);
	assert.equal(await forcedPost(page, '/api/v1/dags/example_chain/pause', false), 403);
	await page.context().close();
});

/* ------------------------------------------ issue 16 items 5 and 6 (pages) */

const AXE = fs.readFileSync(path.join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8');

/* A page in a context that lets the test inject axe-core's source (the
 * dashboard's CSP allows no inline script, rightly). */
async function axePage() {
	const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
	const page = await ctx.newPage();
	page.setDefaultTimeout(TIMEOUT);
	page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
	return page;
}

/* POST from PAGE with its session and CSRF token. */
function postAs(page, p, body) {
	return page.evaluate(async ([p2, b]) => {
		const r = await fetch(p2, { method: 'POST', body: JSON.stringify(b), signal: AbortSignal.timeout(30000), headers: {
			'Content-Type': 'application/json', 'X-CSRF-Token': sessionStorage.getItem('kiln-csrf') } });
		return { status: r.status, body: await r.json() };
	}, [p, body]);
}

/* axe-core's violations on PAGE, as "rule: target (summary)" strings:
 * {found, outside}, where OUTSIDE are those not within an element that
 * matches one of SKIP (passed with the reason in a comment). */
async function axeViolations(page, skip = []) {
	if (!(await page.evaluate(() => typeof window.axe === 'object')))
		await page.addScriptTag({ content: AXE });
	return page.evaluate(async (sk) => {
		const r = await window.axe.run(document, { resultTypes: ['violations'] });
		const found = [], outside = [];
		for (const v of r.violations)
			for (const n of v.nodes) {
				const line = `${v.id}: ${n.target.join(' ')} (${(n.failureSummary || '').split('\n').slice(1, 2).join('').trim()})`;
				const el = typeof n.target[0] === 'string' ? document.querySelector(n.target[0]) : null;
				found.push(line);
				if (!(el && sk.some((s) => el.closest(s))))
					outside.push(line);
			}
		return { found, outside };
	}, skip);
}

let driverJob = 0;

track('the stage view: a driver job lists its stages and map tasks, named by stage and index', async (tc) => {
	const page = await axePage();
	await login(page, USERS.admin);
	const plugins = await apiViewer('/api/v1/plugins');
	if (!JSON.stringify(plugins).includes('stagesum')) {
		tc.skip('tests/plugins/stagesum.so is not built');
		await page.context().close();
		return;
	}
	const r = await postAs(page, '/api/v1/jobs', { plugin: 'stagesum', params: { n: 10000, tasks: 6, iterations: 2 } });
	assert.equal(r.status, 201, JSON.stringify(r.body));
	driverJob = r.body.id;
	await until('the driver succeeded', async () => (await apiViewer(`/api/v1/jobs/${driverJob}`)).state === 'succeeded', 30000);
	await page.goto(`${URL_}/#/jobs/${driverJob}`);
	const stages = page.getByTestId('stage');
	await until('two stages shown', async () => (await stages.count()) === 2);
	assert.equal(await page.getByTestId('stages-count').textContent(), '2 stages, 12 map tasks');
	assert.deepEqual(await stages.evaluateAll((els) => els.map((e) => e.querySelector('[data-testid=stage-state]').dataset.state)),
		['succeeded', 'succeeded']);
	const first = stages.first();
	const sid = await first.getAttribute('data-stage');
	const rows = first.getByTestId('stage-task');
	assert.equal(await rows.count(), 6);
	assert.deepEqual(await rows.locator('th').allTextContents(),
		[0, 1, 2, 3, 4, 5].map((i) => `stage ${sid} task ${i}`), 'map tasks named by stage and index');
	const workers = await first.getByTestId('stage-task-worker').allTextContents();
	assert.ok(workers.every((w) => w === 'w1' || w === 'w2'), `workers ${workers}`);
	assert.match(await first.getByTestId('stage-summary').textContent(), /^6 of 6 map tasks done · stagesum/);
	// A job without stages shows no stage section.
	await page.goto(`${URL_}/#/jobs/${(await apiViewer('/api/v1/jobs?plugin=noop&limit=1')).jobs[0].id}`);
	await page.getByTestId('job-state').waitFor();
	await page.waitForTimeout(300);
	assert.equal(await page.getByTestId('job-stages').isVisible(), false);
	// While a stage runs: its map tasks running on the job page, and on
	// their worker's page named as in the logs, linked to the driver.
	const slow = await postAs(page, '/api/v1/jobs', { plugin: 'stagesum', params: { n: 1000, tasks: 2, sleep_ms: 3000 } });
	assert.equal(slow.status, 201, JSON.stringify(slow.body));
	await page.goto(`${URL_}/#/jobs/${slow.body.id}`);
	await until('a running stage', async () => (await page.locator('[data-testid=stage-state][data-state=running]').count()) === 1, 10000);
	await until('its map tasks running', async () =>
		(await page.locator('[data-testid=stage-task][data-state=running]').count()) === 2, 5000);
	const w = await page.getByTestId('stage-task-worker').first().textContent();
	await page.goto(`${URL_}/#/workers/${w}`);
	const mt = page.getByTestId('worker-map-task').first();
	await mt.waitFor({ timeout: 5000 });
	assert.match(await mt.textContent(), /^stage \d+ task [01]$/);
	assert.equal(await mt.getAttribute('href'), `#/jobs/${slow.body.id}`);
	await until('the slow driver succeeded', async () => (await apiViewer(`/api/v1/jobs/${slow.body.id}`)).state === 'succeeded', 20000);
	// No log line of any node names a map task by its internal id.
	for (const f of ['master', 'w1', 'w2']) {
		const text = fs.readFileSync(path.join(T, `${f}.log`), 'utf8');
		assert.doesNotMatch(text, /job -\d/, `${f}.log names no negative job id`);
	}
	await page.context().close();
});

track('states read by shape and word as well as colour; polling shows and pauses', async () => {
	const page = await axePage();
	await login(page, USERS.admin);
	await page.goto(`${URL_}/#/jobs`);
	await page.getByTestId('job-row').first().waitFor();
	// Each badge has a glyph of its state before its word: on this page,
	// and one per state (the style sheet's), each different.
	assert.ok(await page.locator('[data-testid=job-row] .badge').first().evaluate((b) =>
		/"."/.test(getComputedStyle(b, '::before').content)), 'the jobs list\'s badges have glyphs');
	const states = ['succeeded', 'failed', 'running', 'queued', 'cancelled', 'up_for_retry', 'up_for_reschedule', 'upstream_failed', 'skipped', 'alive', 'late', 'dead'];
	const glyphs = await page.evaluate((sts) => sts.map((st) => {
		const b = document.createElement('span');
		b.className = `badge st-${st}`;
		document.body.append(b);
		const c = getComputedStyle(b, '::before').content;
		b.remove();
		return c.split(' / ')[0];
	}), states);
	assert.match(glyphs[0], /✓/);
	assert.match(glyphs[1], /✗/);
	assert.equal(new Set(glyphs.slice(0, 9)).size, 9, `a glyph per job and task state: ${glyphs}`);
	assert.ok(glyphs.every((g) => /^"."$/.test(g)), `glyphs ${glyphs}`);
	// The poll: a dot lit while a refresh is in flight, and a pause.
	const fresh = page.getByTestId('freshness');
	await until('updated', async () => /^Updated /.test(await fresh.textContent()));
	const pause = page.getByTestId('poll-pause');
	assert.equal(await pause.getAttribute('aria-pressed'), 'false');
	let gets = 0;
	const count = (rq) => { if (rq.url().includes('/api/v1/jobs')) gets++; };
	await pause.click();
	assert.equal(await pause.getAttribute('aria-pressed'), 'true');
	assert.equal(await pause.textContent(), 'Resume updates');
	assert.match(await fresh.textContent(), /^Paused: showing data from /);
	page.on('request', count);
	await page.waitForTimeout(4500);
	assert.equal(gets, 0, 'no poll while paused');
	await pause.click();
	await until('polling again', async () => gets > 0 && /^Updated /.test(await fresh.textContent()), 5000);
	page.off('request', count);
	await page.context().close();
});

track('the leaderboard fits at 1,400 px and the ROC chart shows every model within [0, 1]', async (tc) => {
	const lb = (await apiViewer('/api/v1/jobs?plugin=benchmark&state=succeeded&limit=1')).jobs;
	if (!lb || lb.length === 0) {
		tc.skip('no leaderboard (breast_cancer_models did not run)');
		return;
	}
	const page = await axePage();
	await login(page, USERS.admin);
	await page.goto(`${URL_}/#/models`);
	await page.getByTestId('leaderboard-table').waitFor();
	await page.waitForTimeout(300);
	const sizes = await page.evaluate(() => {
		const t = document.querySelector('[data-testid=leaderboard-table]');
		const box = t.closest('.scroll') || t.parentElement;
		return { page: document.documentElement.scrollWidth, table: t.getBoundingClientRect().right, box: box.scrollWidth - box.clientWidth };
	});
	assert.ok(sizes.page <= 1400 && sizes.table <= 1400 && sizes.box <= 0, `the leaderboard at 1,400 px: ${JSON.stringify(sizes)}`);
	const models = await page.locator('[data-testid=roc-chart] path.roc-line').evaluateAll((els) => els.map((e) => e.dataset.model));
	assert.deepEqual([...models].sort(), ['forest', 'logreg', 'naive_bayes'], 'a curve per model');
	// No std band past the metric's bound (roc_auc <= 1): each bar ends
	// within the axis.
	const over = await page.evaluate(() => {
		const svg = document.querySelector('[data-testid=score-chart]');
		const axis = [...svg.querySelectorAll('.axis line')][0];
		const max = Math.max(Number(axis.getAttribute('x1')), Number(axis.getAttribute('x2')));
		const ticks = [...svg.querySelectorAll('.axis text')].map((t) => Number(t.textContent)).filter(Number.isFinite);
		const bars = [...svg.querySelectorAll('.std-bar')].map((b) => Math.max(Number(b.getAttribute('x1')), Number(b.getAttribute('x2'))));
		return { past: bars.filter((x) => x > max + 0.5).length, top: Math.max(...ticks) };
	});
	assert.equal(over.past, 0, 'no band past the axis');
	assert.ok(over.top <= 1, `the axis stops at 1, not ${over.top}`);
	await page.context().close();
});

track('an unknown DAG, job, run or worker shows "Not found", without buttons', async () => {
	const page = await axePage();
	await login(page, USERS.admin);
	for (const [hash, what] of [['#/dags/no_such_dag', /no_such_dag/], ['#/jobs/999999', /no job 999999/],
		['#/runs/no_such_run', /no_such_run/], ['#/workers/nobody', /nobody/]]) {
		await page.goto(`${URL_}/${hash}`);
		const nf = page.getByTestId('not-found');
		await nf.waitFor();
		assert.match(await nf.textContent(), what, hash);
		assert.equal(await page.locator('main h1').textContent(), 'Not found');
		assert.equal(await page.locator('main button').count(), 0, `${hash}: no button (no Trigger)`);
		assert.equal(await page.getByTestId('error').isVisible(), false);
	}
	await shot(page, 'not-found-dag');
	await page.context().close();
});

/* Every page of app.js's routes, the hash to open and what shows it is
 * drawn; axe-core checks each in both themes at both widths, and each is
 * shot: page-NAME-WIDTH-SCHEME.png. */
track('axe-core finds no violation on any page; screenshots of every page at 1,400 and 375 px, light and dark', async () => {
	const page = await axePage();
	const job = driverJob || (await apiViewer('/api/v1/jobs?limit=1')).jobs[0].id;
	const lbJobs = (await apiViewer('/api/v1/jobs?plugin=benchmark&state=succeeded&limit=1')).jobs || [];
	const pages = [
		['login', '/#/login', 'login-form'],
		['cluster', '/#/cluster', 'worker-row'],
		['worker', '/#/workers/w1', 'worker-title'],
		['dags', '/#/dags', 'dag-row'],
		['dag', `/#/dags/flaky?run=${encodeURIComponent(flakyRun)}`, 'graph-node'],
		['runs', '/#/dags/flaky/runs', 'run-row'],
		['run', `/#/runs/${encodeURIComponent(flakyRun)}`, 'gantt-row'],
		['dag-diff', '/#/dags/versioned/diff?from=1&to=2', 'dag-diff'],
		['jobs', '/#/jobs', 'job-row'],
		['job', `/#/jobs/${job}`, 'job-state'],
		['plugins', '/#/plugins', 'plugin-row'],
		['models', '/#/models', lbJobs.length ? 'leaderboard-table' : 'models-empty'],
		['not-found', '/#/nope', null],
	];
	const found = [];
	for (const [name, hash, ready] of pages) {
		if (name === 'cluster')
			await login(page, USERS.admin);   // the login page first, logged out
		for (const scheme of ['light', 'dark']) {
			await page.emulateMedia({ colorScheme: scheme });
			for (const width of [1400, 375]) {
				await page.setViewportSize({ width, height: width === 375 ? 800 : 900 });
				await page.goto(URL_ + hash);
				if (ready)
					await page.getByTestId(ready).first().waitFor();
				else
					await page.locator('main h1').waitFor();
				await page.waitForTimeout(250);
				await shot(page, `page-${name}-${width}-${scheme}`);
				const v = await axeViolations(page);
				for (const x of v.outside)
					found.push(`${name} ${width} ${scheme}: ${x}`);
			}
		}
	}
	assert.deepEqual(found, [], `axe-core violations:\n${found.join('\n')}`);
	await page.context().close();
});

/* A chain of 10 tasks: its middle is one segment node, which expands
 * (Space, from the keyboard) to its tasks, stays expanded while a run
 * comes in and colours them, and collapses on a click. */
track('the graph: a segment node expands to its chain and keeps the run\'s states', async () => {
	const page = await axePage();
	await login(page, USERS.admin);
	await page.goto(`${URL_}/#/dags/chain10`);
	const seg = page.locator('[data-testid=graph-group][data-kind=segment]');
	await seg.waitFor();
	assert.equal(await seg.getAttribute('data-count'), '8');
	const nodes = page.locator('[data-testid=graph-node]');
	assert.deepEqual(await nodes.evaluateAll((ns) => ns.map((n) => n.dataset.task)), ['c1', 'c10']);
	assert.equal(await seg.getAttribute('aria-expanded'), 'false');
	await seg.focus();
	await page.keyboard.press('Space');
	await until('the chain drawn', async () => (await nodes.count()) === 10);
	assert.equal(await seg.getAttribute('aria-expanded'), 'true');
	assert.deepEqual(await nodes.evaluateAll((ns) => ns.map((n) => n.dataset.task)),
		['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10']);
	// Edges run c1 -> c2 -> ... -> c10 and none from the segment's header.
	assert.equal(await page.locator('[data-testid=dag-graph] path.edge').count(), 9);
	assert.deepEqual((await axeViolations(page)).outside, [], 'axe-core on the expanded graph');
	const r = await page.evaluate(async () => (await fetch('/api/v1/dags/chain10/trigger', { method: 'POST', body: '{}',
		headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': sessionStorage.getItem('kiln-csrf') } })).status);
	assert.equal(r, 201);
	await until('the run\'s states on the expanded chain', async () =>
		(await page.locator('[data-testid=graph-node][data-task=c5]').getAttribute('data-state')) === 'success', 30000);
	assert.equal(await seg.getAttribute('aria-expanded'), 'true', 'still expanded after polls');
	// A task node of the chain links to its job, as any task node does.
	const link = page.locator('[data-testid=dag-graph] a:has([data-task=c5])');
	assert.match(await link.getAttribute('href'), /^#\/jobs\/\d+$/);
	// Zooming keeps it expanded; a click collapses it.
	await page.getByTestId('graph-zoom-in').click();
	await page.getByTestId('graph-fit').click();
	assert.equal(await nodes.count(), 10);
	await seg.click();
	await until('the chain collapsed', async () => (await nodes.count()) === 2);
	assert.equal(await seg.getAttribute('aria-expanded'), 'false');
	await page.context().close();
});

test('no page threw an uncaught error', () => {
	assert.deepEqual(pageErrors, []);
});
