// SPDX-License-Identifier: MIT
// app.js - the dashboard's shell: who is logged in, hash routing to one
// page module at a time, and the poll that keeps the visible page live.
//
// A page module exports {nav, title, mount(root, ctx)}; mount builds the
// page's skeleton and returns {refresh(), interval?, unmount?()}.  The
// shell calls refresh() at once and then again `interval` ms after the
// previous refresh finished (2000 by default; a running job's page tails
// its log every 1500; never under MIN_INTERVAL), and only while the tab is
// visible, so a slow master is never hit by overlapping polls.
//
// The page says when its data was last updated; when a refresh fails (the
// master is down, frozen past api.js's timeout, or erring) the page's
// content is greyed out and marked stale (main[data-stale]) until one
// succeeds again, so old numbers never look current.  A dot beside it
// shows each refresh in flight, and "Pause updates" stops the polling
// (data then says it is paused, from when) until "Resume updates".

import { ApiError, get, post, onUnauthorized, setCsrf } from './api.js';
import { h, replace, setText, focusableScrolls } from './dom.js';
import cluster from './cluster.js';
import dags from './dags.js';
import dag from './dag.js';
import jobs from './jobs.js';
import run from './run.js';
import dagdiff from './dagdiff.js';
import runs from './runs.js';
import worker from './worker.js';
import job from './job.js';
import plugins from './plugins.js';
import models from './models.js';
import login from './login.js';

const ROUTES = [
	[/^\/cluster$/, cluster],
	[/^\/dags$/, dags],
	[/^\/dags\/([^/]+)$/, dag],
	[/^\/dags\/([^/]+)\/runs$/, runs],
	[/^\/dags\/([^/]+)\/diff$/, dagdiff],
	[/^\/runs\/([^/]+)$/, run],
	[/^\/workers\/([^/]+)$/, worker],
	[/^\/jobs$/, jobs],
	[/^\/jobs\/(\d+)$/, job],
	[/^\/plugins$/, plugins],
	[/^\/models$/, models],
	[/^\/models\/(\d+)$/, models],
	[/^\/login$/, login],
];
const MIN_INTERVAL = 1000;

const $ = (sel) => document.querySelector(sel);

/* The logged-in user, {user, role}, or null (the CSRF token is in api.js). */
let me = null;
let view = null;     // {gen, page, inst, timer}
let gen = 0;

function parseHash() {
	const raw = location.hash.replace(/^#/, '') || '/cluster';
	const q = raw.indexOf('?');
	const path = q < 0 ? raw : raw.slice(0, q);
	const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
	return { path, query };
}

export function navigate(hash) {
	if (location.hash === hash)
		route();
	else
		location.hash = hash;
}

function showError(msg) {
	const el = $('[data-testid=error]');
	setText(el, msg || '');
	el.hidden = !msg;
}

/* The current page's data: 'ok' just refreshed, 'stale' what a failed
 * refresh left on screen, 'reset' none yet (a new page). */
let updated = 0;
let paused = sessionStorage.getItem('kiln-paused') === '1';

function pauseButton() {
	const b = $('[data-testid=poll-pause]');
	b.setAttribute('aria-pressed', paused ? 'true' : 'false');
	setText(b, paused ? 'Resume updates' : 'Pause updates');
	$('[data-testid=pollbar]').classList.toggle('paused', paused);
}

function togglePause() {
	paused = !paused;
	sessionStorage.setItem('kiln-paused', paused ? '1' : '0');
	pauseButton();
	freshness('same');
	if (!paused && view)
		poll(view.gen);
}

function freshness(state) {
	const el = $('[data-testid=freshness]');
	if (state === 'ok')
		updated = Date.now();
	else if (state === 'reset')
		updated = 0;
	const stale = state === 'stale' && updated > 0;
	const at = new Date(updated).toLocaleTimeString();
	el.hidden = updated === 0;
	el.classList.toggle('stale', stale);
	el.dataset.updated = String(updated);
	setText(el, stale ? `Stale: the last refresh failed; showing data from ${at}` :
		paused ? `Paused: showing data from ${at}` : `Updated ${at}`);
	$('main').toggleAttribute('data-stale', stale);
}

function toLogin() {
	if (parseHash().path === '/login')
		return;
	me = null;
	setCsrf('');
	const here = location.hash && !location.hash.startsWith('#/login') ? location.hash : '#/cluster';
	navigate('#/login?next=' + encodeURIComponent(here));
}

function header() {
	const logged = me !== null;
	$('[data-testid=nav]').hidden = !logged;
	$('[data-testid=pollbar]').hidden = !logged;
	$('[data-testid=user]').hidden = !logged;
	if (logged) {
		setText($('[data-testid=user-name]'), me.user);
		setText($('[data-testid=user-role]'), me.role);
	}
	const cur = view ? view.page.nav : '';
	for (const a of document.querySelectorAll('[data-nav]')) {
		if (a.dataset.nav === cur)
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
}

function stop() {
	if (view === null)
		return;
	clearTimeout(view.timer);
	if (view.inst && view.inst.unmount)
		view.inst.unmount();
	view = null;
}

async function poll(g, force = false) {
	if (view === null || view.gen !== g)
		return;
	clearTimeout(view.timer);
	// A paused page still draws once: a new page must show something.
	if (document.visibilityState === 'visible' && (force || !paused || updated === 0)) {
		const dot = $('[data-testid=poll-indicator]');
		dot.classList.add('busy');
		try {
			await view.inst.refresh();
			if (view && view.gen === g) {
				showError('');
				freshness('ok');
				focusableScrolls($('main'));
			}
		} catch (e) {
			if (view && view.gen === g && e instanceof ApiError && e.status === 404 && updated === 0) {
				notFound(e.message);     // the page's object does not exist
				return;
			}
			if (view && view.gen === g && !(e instanceof ApiError && e.status === 401)) {
				showError(e.message);
				freshness('stale');
			}
		} finally {
			dot.classList.remove('busy');
		}
	}
	if (view === null || view.gen !== g)
		return;
	const every = Math.max(MIN_INTERVAL, view.inst.interval || 2000);
	view.timer = setTimeout(() => poll(g), every);
}

/* Where a page that names a missing object sends its reader back. */
const BACK = {
	dags: ['#/dags', 'Go to the DAGs'], jobs: ['#/jobs', 'Go to the jobs'],
	cluster: ['#/cluster', 'Go to the cluster'], models: ['#/models', 'Go to the models'],
};

/* The current page's object (a DAG, job, run, worker) does not exist: its
 * first refresh was a 404.  Rather than an empty page whose buttons
 * (Trigger...) act on nothing, say so, and stop polling. */
function notFound(msg) {
	const [href, text] = BACK[view.page.nav] || BACK.cluster;
	stop();
	freshness('reset');
	showError('');
	document.title = 'Not found · kiln';
	replace($('main'), h('h1', { tabindex: -1 }, 'Not found'),
		h('p', { 'data-testid': 'not-found' }, `The master answered: ${msg}.`),
		h('p', {}, h('a', { href }, text)));
	$('main h1').focus({ preventScroll: true });
}

async function route() {
	const { path, query } = parseHash();
	let page = null, params = [];
	for (const [re, p] of ROUTES) {
		const m = path.match(re);
		if (m) {
			page = p;
			params = m.slice(1).map(decodeURIComponent);
			break;
		}
	}
	if (page !== login && me === null) {
		toLogin();
		return;
	}
	stop();
	showError('');
	freshness('reset');
	const root = $('main');
	replace(root);
	if (page === null) {
		root.append(h('h1', {}, 'Not found'), h('p', {}, `No page at ${path}.`),
			h('p', {}, h('a', { href: '#/cluster' }, 'Go to the cluster')));
		header();
		return;
	}
	const g = ++gen;
	view = { gen: g, page, inst: null, timer: 0 };
	document.title = `${page.title} · kiln`;
	header();
	// refreshNow: after a change the page made, show it without waiting.
	const ctx = { params, query, me, navigate, loggedIn, showError, refreshNow: () => poll(g, true) };
	view.inst = page.mount(root, ctx) || { refresh() {} };
	// Move focus to the new page so screen readers announce it.
	const first = root.querySelector('[autofocus]') || root.querySelector('h1');
	if (first) {
		if (first.tagName === 'H1')
			first.tabIndex = -1;
		first.focus({ preventScroll: true });
	}
	poll(g);
}

/* Called by the login page with the answer of POST /api/v1/login. */
function loggedIn(who, next) {
	me = { user: who.user, role: who.role };
	setCsrf(who.csrf);
	navigate(next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/cluster');
}

async function logout() {
	try {
		await post('/api/v1/logout', {});
	} catch (e) {
		/* the session may be gone already; log out locally anyway */
	}
	me = null;
	setCsrf('');
	navigate('#/login');
}

async function start() {
	onUnauthorized(toLogin);
	$('[data-testid=logout]').addEventListener('click', logout);
	$('[data-testid=poll-pause]').addEventListener('click', togglePause);
	pauseButton();
	// The skip link must not change the hash: that is the router's.
	$('[data-skip]').addEventListener('click', (ev) => {
		ev.preventDefault();
		$('main').focus();
	});
	document.addEventListener('visibilitychange', () => {
		if (document.visibilityState === 'visible' && view)
			poll(view.gen);
	});
	window.addEventListener('hashchange', route);
	window.addEventListener('resize', () => focusableScrolls($('main')));
	get('/api/v1/health').then((hl) =>
		setText($('[data-testid=cluster-name]'), `${hl.cluster} · v${hl.version}`)).catch(() => {});
	try {
		const who = await get('/api/v1/me', { quiet401: true });
		me = { user: who.user, role: who.role };
		if (who.csrf)
			setCsrf(who.csrf);
	} catch (e) {
		me = null;
	}
	route();
}

start();
