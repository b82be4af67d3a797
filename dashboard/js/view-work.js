// view-work — customer care's call lists (#/work): maintenance due,
// insurance due, lost customers (GET /api/reminders) and follow-ups
// (GET /api/followups), each row with the customer's phone, the reason to
// call and the actions that record the call (POST /api/alerts/{id}).

import { api } from './api.js';
import { clear, evName, h, levelChip } from './dom.js';
import { t } from './i18n.js';
import { statusName } from './labels.js';
import { subscribe } from './store.js';
import { flashText } from './view-vehicle.js';

const TABS = [
  { id: 'maintenance', label: 'work_maintenance', types: ['maintenance_due', 'maintenance_overdue'] },
  { id: 'insurance', label: 'work_insurance', types: ['insurance_due'] },
  { id: 'lost', label: 'work_lost', types: ['lost_customer'] },
  { id: 'followups', label: 'work_followups', types: ['followup_due'] },
];
const ROW_ACTIONS = ['contacted', 'booked', 'dismissed'];

export function createWorkView(main, params) {
  let tab = TABS.find((x) => x.id === params.tab) ? params.tab : 'maintenance';
  let within = 30;
  let reminders = [];
  let followups = [];
  let error = null;
  let loading = true;
  let flash = null;
  const root = h('section', { class: 'view work-view' });
  main.append(root);

  async function load() {
    loading = true;
    render();
    try {
      const [r, f] = await Promise.all([api.reminders(within), api.followups()]);
      reminders = listOf(r);
      followups = listOf(f);
      error = null;
    } catch (e) {
      error = t('load_failed', { msg: e.message });
    }
    loading = false;
    render();
  }

  function rowsFor(id) {
    const def = TABS.find((x) => x.id === id);
    if (id === 'followups') return followups;
    return reminders.filter((r) => def.types.includes(r.type));
  }

  function render() {
    const notes = new Map([...root.querySelectorAll('input[data-note-for]')].map((i) => [i.dataset.noteFor, i.value]));
    clear(root);
    const select = h('select', { id: 'work-within', onchange: (e) => { within = Number(e.target.value); load(); } },
      [7, 30, 90].map((d) => h('option', { value: d, selected: d === within }, String(d))));
    root.append(h('div', { class: 'toolbar' },
      h('h1', null, t('work_title')),
      h('label', { for: 'work-within', class: 'inline-label' }, t('work_within')), select,
      h('button', { type: 'button', onclick: load }, t('work_refresh'))));
    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('work_title') },
      TABS.map((x) => h('button', {
        type: 'button', role: 'tab', id: `tab-${x.id}`, 'aria-selected': x.id === tab ? 'true' : 'false',
        'aria-controls': 'work-panel', dataset: { tab: x.id },
        onclick: () => { tab = x.id; render(); },
      }, t(x.label), h('span', { class: 'count' }, String(rowsFor(x.id).length)))));
    root.append(tablist);
    if (flash) root.append(h('p', { class: `flash ${flash.kind}`, role: 'status' }, flashText(flash)));
    const panel = h('div', { id: 'work-panel', role: 'tabpanel', 'aria-labelledby': `tab-${tab}` });
    root.append(panel);
    if (error) return panel.append(h('p', { class: 'error', role: 'alert' }, error));
    if (loading) return panel.append(h('p', { class: 'muted' }, t('loading')));
    const rows = rowsFor(tab);
    if (!rows.length) return panel.append(h('p', { class: 'empty' }, t('work_empty')));
    panel.append(h('table', { class: 'grid work' },
      h('thead', null, h('tr', null, [t('col_due'), t('col_severity'), t('col_plate'), t('col_customer'), t('col_phone'),
        t('col_reason'), t('col_state'), t('col_actions')].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.map((r) => {
        const id = String(r.alert_id ?? r.id);
        const input = h('input', { type: 'text', maxlength: 1000, 'aria-label': t('alert_note'),
          placeholder: t('alert_note'), dataset: { noteFor: id } });
        input.value = notes.get(id) || '';
        return h('tr', { dataset: { alertId: id, type: r.type } },
          h('td', null, r.due_date || ''),
          h('td', null, levelChip(r.severity)),
          h('td', null, h('a', { href: `#/vehicle/${encodeURIComponent(r.vin)}` }, r.plate || r.vin)),
          h('td', null, r.customer?.name || t('unknown')),
          h('td', { class: 'phone' }, r.customer?.phone || t('unknown')),
          h('td', null, r.reason || evName(r.type)),
          h('td', null, statusName(r.status)),
          h('td', { class: 'row-actions' }, input, ROW_ACTIONS.map((s) => h('button', {
            type: 'button', class: 'small', dataset: { action: s },
            onclick: () => act(id, s, input.value.trim()),
          }, t('act_' + s)))));
      }))));
  }

  async function act(id, status, note) {
    try {
      await api.updateAlert(id, status, note);
      flash = { kind: 'ok', status };
    } catch (e) {
      flash = { kind: 'error', closed: e.status === 409, msg: e.message };
    }
    load();
  }

  const unsubscribe = subscribe((kind, detail) => {
    if (kind === 'alert' && detail.frame === 'reminder') load();
  });
  load();
  return { render, destroy() { unsubscribe(); root.remove(); } };
}

function listOf(r) {
  if (Array.isArray(r)) return r;
  return (r && r.items) || [];
}
