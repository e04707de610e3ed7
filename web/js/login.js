// SPDX-License-Identifier: MIT
// login.js - the login form: POST /api/v1/login with user and password.
// The master answers with an HttpOnly session cookie and a CSRF token
// (kept by app.js); a refusal shows the master's own message.

import { post } from './api.js';
import { h, setText } from './dom.js';

export default {
	nav: '',
	title: 'Log in',
	mount(root, ctx) {
		const user = h('input', { id: 'login-user', name: 'user', autocomplete: 'username',
			required: true, autofocus: true, 'data-testid': 'login-user' });
		const pass = h('input', { id: 'login-password', name: 'password', type: 'password',
			autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
		const msg = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error', hidden: true });
		const button = h('button', { type: 'submit', 'data-testid': 'login-submit' }, 'Log in');
		const form = h('form', { class: 'login', 'data-testid': 'login-form' },
			h('h1', {}, 'Log in to kiln'),
			h('label', { for: 'login-user' }, 'User'), user,
			h('label', { for: 'login-password' }, 'Password'), pass,
			msg, button);
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			button.disabled = true;
			msg.hidden = true;
			try {
				const who = await post('/api/v1/login',
					{ user: user.value, password: pass.value }, { quiet401: true });
				ctx.loggedIn(who, ctx.query.get('next'));
			} catch (e) {
				setText(msg, e.message);
				msg.hidden = false;
				pass.value = '';
				pass.focus();
			} finally {
				button.disabled = false;
			}
		});
		root.append(form);
		return { refresh() {} };
	},
};
