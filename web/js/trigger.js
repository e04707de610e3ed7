// SPDX-License-Identifier: MIT
// trigger.js - the "trigger a DAG run" dialog, shared by the DAGs list and
// a DAG's page.  It asks GET /api/v1/dags/ID for the DAG's declared params
// and offers one typed field per param, its default filled in: a string is
// a text field, a number a number field, a boolean a checkbox, anything
// else JSON.  POST /api/v1/dags/ID/trigger {conf} sends only values that
// differ from the defaults, so the DAG file stays the source of defaults.

import { get, post, enc } from './api.js';
import { h, setText } from './dom.js';

function field(name, def, i) {
	const id = `param-${i}`;
	const label = h('label', { for: id }, name);
	let input, read;
	if (typeof def === 'boolean') {
		input = h('input', { id, type: 'checkbox', checked: def, 'data-param': name });
		read = () => input.checked;
	} else if (typeof def === 'number') {
		input = h('input', { id, type: 'number', step: 'any', value: String(def), 'data-param': name });
		read = () => {
			const v = Number(input.value);
			if (input.value.trim() === '' || !Number.isFinite(v))
				throw new Error(`${name} must be a number`);
			return v;
		};
	} else if (typeof def === 'string') {
		input = h('input', { id, type: 'text', value: def, 'data-param': name });
		read = () => input.value;
	} else {
		input = h('textarea', { id, rows: 3, class: 'mono', 'data-param': name });
		input.value = JSON.stringify(def);
		read = () => {
			try {
				return JSON.parse(input.value);
			} catch (e) {
				throw new Error(`${name} is not valid JSON: ${e.message}`);
			}
		};
	}
	const hint = h('span', { class: 'sub' }, typeof def === 'object' ? 'JSON' : typeof def);
	return { el: h('div', { class: 'field' }, label, input, hint), name, def, read };
}

/* Open the dialog for DAG dagId; onDone(runId) after a successful trigger. */
export async function openTrigger(dagId, onDone) {
	const dag = await get(`/api/v1/dags/${enc(dagId)}`);
	const params = Object.entries(dag.params || {});
	const fields = params.map(([k, v], i) => field(k, v, i));
	const msg = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'trigger-error', hidden: true });
	const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'trigger-submit' }, 'Trigger');
	const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
	const form = h('form', { method: 'dialog' },
		h('h2', { id: 'trigger-title' }, `Trigger ${dagId}`),
		fields.length ? fields.map((f) => f.el) :
			h('p', { class: 'sub' }, 'This DAG declares no params.'),
		msg,
		h('div', { class: 'buttons' }, cancel, submit));
	const dlg = h('dialog', { 'data-testid': 'trigger-dialog', 'aria-labelledby': 'trigger-title' }, form);
	cancel.addEventListener('click', () => dlg.close());
	dlg.addEventListener('close', () => dlg.remove());
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		msg.hidden = true;
		const conf = {};
		try {
			for (const f of fields) {
				const v = f.read();
				if (JSON.stringify(v) !== JSON.stringify(f.def))
					conf[f.name] = v;
			}
		} catch (e) {
			setText(msg, e.message);
			msg.hidden = false;
			return;
		}
		submit.disabled = true;
		try {
			const r = await post(`/api/v1/dags/${enc(dagId)}/trigger`, { conf });
			dlg.close();
			onDone(r.run_id);
		} catch (e) {
			setText(msg, e.message);
			msg.hidden = false;
		} finally {
			submit.disabled = false;
		}
	});
	document.body.append(dlg);
	dlg.showModal();
	return dlg;
}
