// SPDX-License-Identifier: MIT
// api.js - the dashboard's only door to the master's API (docs/api.md).
//
// The session lives in an HttpOnly cookie the page cannot read; what the
// page keeps is the CSRF token from login (or GET /api/v1/me), in memory and
// in sessionStorage so a reload in the same tab keeps working.  Every call
// that changes something sends it as X-CSRF-Token.  A 401 from any call
// means the session is gone: onUnauthorized() sends the user to the login
// page.
//
// The master tags each JSON answer to a GET with an ETag; the page keeps
// the last answer of each path and asks If-None-Match, so a poll of data
// that did not change costs a 304 without a body (and returns the same
// object as before: callers treat answers as read-only).

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

let csrf = sessionStorage.getItem('kiln-csrf') || '';
const cached = new Map();        // path -> {etag, data}, the newest last
const CACHED_MAX = 16;
let unauthorized = () => {};

export function setCsrf(token) {
	csrf = token || '';
	if (csrf)
		sessionStorage.setItem('kiln-csrf', csrf);
	else
		sessionStorage.removeItem('kiln-csrf');
}

export function onUnauthorized(fn) {
	unauthorized = fn;
}

/* How long a request may take before the page gives up on it and says the
 * master is not answering: reads are small and polled, so a frozen master
 * shows within seconds; changes (a batch of jobs) may take longer. */
const TIMEOUT_READ = 5000;
const TIMEOUT_CHANGE = 30000;

/*
 * request(method, path, {body, text, quiet401, timeout}) -> parsed JSON (or
 * text with text: true).  Throws ApiError with the server's message on any
 * non-2xx answer, and ApiError(0) when the master is unreachable or does
 * not answer within the timeout (ms).  quiet401 is for the login form,
 * where 401 means "wrong password" rather than "session expired".
 */
export async function request(method, path, opts = {}) {
	const read = method === 'GET' || method === 'HEAD';
	const ms = opts.timeout ?? (read ? TIMEOUT_READ : TIMEOUT_CHANGE);
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), ms);
	try {
		return await exchange(method, path, opts, read, ctl.signal);
	} catch (e) {
		if (e.name === 'AbortError')
			throw new ApiError(0, `the master did not answer within ${ms / 1000} s`);
		throw e;
	} finally {
		clearTimeout(timer);
	}
}

async function exchange(method, path, opts, read, signal) {
	const headers = { Accept: opts.text ? 'text/plain' : 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
	if (!read) {
		headers['Content-Type'] = 'application/json';
		if (csrf)
			headers['X-CSRF-Token'] = csrf;
		init.body = JSON.stringify(opts.body ?? {});
	}
	const kept = read && !opts.text ? cached.get(path) : undefined;
	if (kept)
		headers['If-None-Match'] = kept.etag;
	let r;
	try {
		r = await fetch(path, init);
	} catch (e) {
		if (e.name === 'AbortError')
			throw e;
		throw new ApiError(0, `the master is unreachable (${e.message})`);
	}
	if (r.status === 304 && kept) {
		cached.delete(path);
		cached.set(path, kept);
		return kept.data;
	}
	if (r.status === 401 && !opts.quiet401) {
		unauthorized();
		throw new ApiError(401, 'please log in');
	}
	if (!r.ok) {
		let msg = `${r.status} ${r.statusText}`;
		try {
			const j = await r.json();
			if (j && j.error)
				msg = j.error;
		} catch (e) {
			if (e.name === 'AbortError')
				throw e;
			/* not JSON: keep the status line */
		}
		throw new ApiError(r.status, msg);
	}
	if (opts.text)
		return r.text();
	if (r.status === 204)
		return {};
	const data = await r.json();
	const etag = r.headers.get('ETag');
	if (read && etag) {
		cached.delete(path);
		cached.set(path, { etag, data });
		if (cached.size > CACHED_MAX)
			cached.delete(cached.keys().next().value);
	}
	return data;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const getText = (path) => request('GET', path, { text: true });

/* encodeURIComponent for path segments and query values. */
export const enc = encodeURIComponent;
