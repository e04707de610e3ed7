// SPDX-License-Identifier: MIT
// api.js - the dashboard's only door to the master's API (docs/api.md).
//
// The session lives in an HttpOnly cookie the page cannot read; what the
// page keeps is the CSRF token from login (or GET /api/v1/me), in memory and
// in sessionStorage so a reload in the same tab keeps working.  Every call
// that changes something sends it as X-CSRF-Token.  A 401 from any call
// means the session is gone: onUnauthorized() sends the user to the login
// page.

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

let csrf = sessionStorage.getItem('kiln-csrf') || '';
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

/*
 * request(method, path, {body, text, quiet401}) -> parsed JSON (or text with
 * text: true).  Throws ApiError with the server's message on any non-2xx
 * answer.  quiet401 is for the login form, where 401 means "wrong password"
 * rather than "session expired".
 */
export async function request(method, path, opts = {}) {
	const headers = { Accept: opts.text ? 'text/plain' : 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	if (method !== 'GET' && method !== 'HEAD') {
		headers['Content-Type'] = 'application/json';
		if (csrf)
			headers['X-CSRF-Token'] = csrf;
		init.body = JSON.stringify(opts.body ?? {});
	}
	let r;
	try {
		r = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, `the master is unreachable (${e.message})`);
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
			/* not JSON: keep the status line */
		}
		throw new ApiError(r.status, msg);
	}
	if (opts.text)
		return r.text();
	if (r.status === 204)
		return {};
	return r.json();
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const getText = (path) => request('GET', path, { text: true });

/* encodeURIComponent for path segments and query values. */
export const enc = encodeURIComponent;
