// view-vehicle — one vehicle (#/vehicle/VIN): its customer, live state,
// open alerts with the actions an advisor takes (each with a note, POST
// /api/alerts/{id}), the alert history, reminders, service history,
// appointments, the health brief and charts. Live frames for this VIN
// update the state at once; alert frames refetch the page's data (notes
// being typed are kept).

import { api } from './api.js';
import { renderBrief } from './brief.js';
import { vehicleCharts } from './charts.js';
import { ago, clear, dateTime, evName, h, km, levelChip, num } from './dom.js';
import { t } from './i18n.js';
import {
  badgeCell, describeAlert, dtcStatus, ignitionName, serviceKind, statusName, subjectName, tierName, wheelName,
} from './labels.js';
import { store, subscribe } from './store.js';

const ACTIONS = ['acknowledged', 'contacted', 'booked', 'dismissed', 'resolved'];
const WHEELS = ['fl', 'fr', 'rl', 'rr'];

function section(id, title, ...body) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, title), ...body);
}

function table(headers, rows, emptyText, cls = '') {
  if (!rows.length) return h('p', { class: 'muted' }, emptyText);
  return h('table', { class: `grid compact ${cls}` },
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows));
}

export function createVehicleView(main, vin) {
  let data = null;
  let error = null;
  let refetchTimer = null;
  let charts = [];
  const notes = new Map(); /* alert id -> note being typed */
  let flash = null; /* {text, kind} after an action */
  const root = h('section', { class: 'view vehicle-view', dataset: { vin } });
  main.append(root);

  async function load() {
    try {
      data = await api.vehicle(vin);
      error = null;
    } catch (e) {
      error = e.status === 404 ? t('vehicle_not_found') : t('load_failed', { msg: e.message });
      data = null;
    }
    render();
  }

  function refetchSoon() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(load, 400);
  }

  function saveNotes() {
    for (const ta of root.querySelectorAll('textarea[data-alert-note]')) notes.set(ta.dataset.alertNote, ta.value);
  }

  function render() {
    saveNotes();
    for (const c of charts) c.destroy();
    charts = [];
    clear(root);
    root.append(h('p', null, h('a', { href: '#/', class: 'back' }, t('back_to_list'))));
    if (error) {
      root.append(h('p', { class: 'error', role: 'alert' }, error), h('button', { type: 'button', onclick: load }, t('retry')));
      return;
    }
    if (!data) {
      root.append(h('p', { class: 'muted' }, t('loading')));
      return;
    }
    const v = data.vehicle || {};
    const live = store.vehicles.get(vin);
    const badges = { ...(v.badges || {}), ...(live ? pick(live.badges, ['tyres', 'faults', 'battery']) : {}) };
    document.title = `${v.plate || vin} · ${t('app_title')}`;
    root.append(h('header', { class: 'vehicle-head' },
      h('h1', null, v.plate || vin, ' ', h('span', { class: 'muted' }, [v.brand, v.model].filter(Boolean).join(' '))),
      h('div', { class: 'vin muted' }, `${t('field_vin')} ${vin}`),
      h('div', { class: 'head-badges', id: 'vehicle-badges' }, badgeCell(badges))));
    if (flash) root.append(h('p', { class: `flash ${flash.kind}`, role: 'status' }, flashText(flash)));

    const cols = h('div', { class: 'columns' });
    const left = h('div', { class: 'col' });
    const right = h('div', { class: 'col' });
    cols.append(left, right);
    root.append(cols);

    left.append(customerCard(data.customer), stateCard(), alertsCard(), historyCard());
    right.append(
      section('brief', t('section_brief'), renderBrief(data.brief, descriptions())),
      remindersCard(), servicesCard(), appointmentsCard(), chartsCard());
    for (const c of charts) c.mount();
  }

  function descriptions() {
    const o = {};
    for (const d of data.state?.dtc || []) if (d.description) o[d.code] = d.description;
    return o;
  }

  function customerCard(c) {
    if (!c) return section('customer', t('section_customer'), h('p', { class: 'muted' }, t('customer_none')));
    const dl = h('dl', { class: 'kv' },
      h('dt', null, t('field_name')), h('dd', null, c.name),
      h('dt', null, t('field_phone')), h('dd', { class: 'phone' }, c.phone || t('unknown')),
      h('dt', null, t('field_tier')), h('dd', null, tierName(c.tier)),
      h('dt', null, t('field_advisor')), h('dd', null, c.advisor || c.advisor_id || t('unknown')),
      h('dt', null, t('field_consent')), h('dd', null, c.display_consent === 'yes' || c.display_consent === true ? t('yes') : t('no')));
    return section('customer', t('section_customer'), dl);
  }

  function stateCard() {
    const s = { ...(data.state || {}) };
    const live = store.vehicles.get(vin);
    if (live && live.seen_ts && (!s.ts || live.seen_ts >= s.ts)) {
      for (const k of ['odometer_km', 'speed_kmh', 'fuel_pct', 'battery_v', 'ignition', 'online']) if (k in live) s[k] = live[k];
      if (live.tires) s.tires = mergeTires(s.tires, live.tires);
      s.ts = live.seen_ts;
    }
    const kv = h('dl', { class: 'kv state' },
      h('dt', null, t('field_odometer')), h('dd', { dataset: { field: 'odometer_km' } }, km(s.odometer_km)),
      h('dt', null, t('field_speed')), h('dd', null, s.speed_kmh === undefined || s.speed_kmh === null ? t('unknown') : `${num(s.speed_kmh)} km/h`),
      h('dt', null, t('field_fuel')), h('dd', null, s.fuel_pct === undefined || s.fuel_pct === null ? t('unknown') : `${num(s.fuel_pct)}%`),
      h('dt', null, t('field_fuel_use')), h('dd', null, s.fuel_l_per_100km === undefined || s.fuel_l_per_100km === null ? t('unknown') : `${num(s.fuel_l_per_100km, 1)} L/100km`),
      h('dt', null, t('field_battery')), h('dd', null, s.battery_v === undefined || s.battery_v === null ? t('unknown') : `${num(s.battery_v, 1)} V`),
      h('dt', null, t('field_ignition')), h('dd', null, ignitionName(s.ignition)),
      h('dt', null, t('field_online')), h('dd', null, s.online === undefined || s.online === null ? t('unknown') : s.online ? t('online') : t('offline')),
      h('dt', null, t('field_seen')), h('dd', { title: dateTime(s.ts || data.vehicle?.seen_ts) }, ago(s.ts || data.vehicle?.seen_ts)));
    const tyres = s.tires || {};
    const tyreRows = WHEELS.filter((w) => tyres[w]).map((w) => h('tr', { dataset: { wheel: w } },
      h('th', { scope: 'row' }, wheelName(w)),
      h('td', { class: 'num' }, num(tyres[w].kpa)),
      h('td', { class: 'num' }, num(tyres[w].tread_mm, 1)),
      h('td', { class: 'num' }, num(tyres[w].temp_c))));
    const dtc = data.state?.dtc || [];
    const dtcRows = dtc.map((d) => h('tr', null,
      h('td', null, h('code', null, d.code)), h('td', null, dtcStatus(d.status)),
      h('td', null, d.mil ? t('yes') : t('no')), h('td', null, d.description || t('unknown'))));
    return section('state', t('section_state'), kv,
      table([t('tyre_wheel'), t('tyre_kpa'), t('tyre_tread'), t('tyre_temp')], tyreRows, t('unknown'), 'tyres'),
      h('h3', null, t('dtc_title')),
      table([t('dtc_code'), t('dtc_status'), t('dtc_mil'), t('dtc_desc')], dtcRows, t('dtc_none'), 'dtc'));
  }

  function alertsCard() {
    const alerts = (data.alerts || []).filter((a) => a.status !== 'resolved' && a.status !== 'dismissed');
    if (!alerts.length) return section('alerts', t('section_alerts'), h('p', { class: 'muted' }, t('alerts_none')));
    return section('alerts', t('section_alerts'), h('ul', { class: 'alert-list' }, alerts.map(alertItem)));
  }

  function alertItem(a) {
    const noteId = `note-${a.id}`;
    const ta = h('textarea', { id: noteId, rows: 2, maxlength: 1000, dataset: { alertNote: String(a.id) },
      placeholder: t('alert_note_placeholder') });
    ta.value = notes.get(String(a.id)) || '';
    const buttons = ACTIONS.map((s) => h('button', {
      type: 'button', class: s === 'resolved' ? 'primary' : '', dataset: { action: s },
      onclick: (e) => act(a, s, ta, e.currentTarget),
    }, t('act_' + s)));
    return h('li', { class: `alert-card lv-${a.severity}`, dataset: { alertId: String(a.id), type: a.type } },
      h('div', { class: 'alert-title' }, levelChip(a.severity), ' ', h('strong', null, evName(a.type)),
        a.subject ? ` · ${subjectName(a)}` : '', h('span', { class: 'status-tag' }, statusName(a.status))),
      h('div', { class: 'muted small' }, describeAlert(a), ' · ', t('alert_opened', { t: dateTime(a.opened_ts) })),
      h('label', { for: noteId, class: 'small' }, t('alert_note')), ta,
      h('div', { class: 'actions', role: 'group', 'aria-label': evName(a.type) }, buttons));
  }

  async function act(a, status, ta, btn) {
    const note = ta.value.trim();
    for (const b of btn.parentElement.querySelectorAll('button')) b.disabled = true;
    try {
      await api.updateAlert(a.id, status, note);
      notes.delete(String(a.id));
      ta.value = '';
      flash = { kind: 'ok', status };
    } catch (e) {
      flash = { kind: 'error', closed: e.status === 409, msg: e.message };
    }
    await load();
  }

  function historyCard() {
    const kinds = new Map((data.alerts || []).map((a) => [a.id, a]));
    const rows = (data.alert_history || []).map((l) => {
      const a = kinds.get(l.alert_id);
      return h('tr', { dataset: { alertId: String(l.alert_id), action: l.action || l.status } },
        h('td', null, dateTime(l.ts)),
        h('td', null, a ? evName(a.type) : `#${l.alert_id}`),
        h('td', null, l.actor || t('unknown')),
        h('td', null, statusName(l.status || l.action)),
        h('td', { class: 'note-cell' }, l.note || ''));
    });
    return section('history', t('section_history'),
      table([t('col_time'), t('col_alert'), t('col_actor'), t('col_action'), t('col_note')], rows, t('history_none'), 'history'));
  }

  function remindersCard() {
    const rows = (data.reminders || []).map((r) => h('tr', null,
      h('td', null, r.due_date || t('unknown')), h('td', null, levelChip(r.severity)),
      h('td', null, evName(r.type)), h('td', null, r.reason || ''), h('td', null, statusName(r.status))));
    return section('reminders', t('section_reminders'),
      table([t('col_due'), t('col_severity'), t('col_kind'), t('col_reason'), t('col_state')], rows, t('reminders_none')));
  }

  function servicesCard() {
    const rows = (data.services || []).map((s) => h('tr', null,
      h('td', null, s.date), h('td', null, serviceKind(s.kind)), h('td', { class: 'num' }, km(s.odometer_km))));
    return section('services', t('section_services'),
      table([t('col_date'), t('col_kind'), t('col_odometer')], rows, t('services_none')));
  }

  function appointmentsCard() {
    const rows = (data.appointments || []).map((a) => h('tr', null,
      h('td', null, a.start), h('td', null, a.service), h('td', null, a.advisor || a.advisor_id || '')));
    return section('appointments', t('section_appointments'),
      table([t('col_start'), t('col_service'), t('field_advisor')], rows, t('appointments_none')));
  }

  function chartsCard() {
    charts = vehicleCharts(data.series);
    return section('charts', t('section_charts'), h('div', { class: 'charts' }, charts.map((c) => c.el)));
  }

  const unsubscribe = subscribe((kind, detail) => {
    if (!data) return;
    if (kind === 'vehicle' && detail === vin) {
      saveNotes();
      const live = store.vehicles.get(vin);
      const old = root.querySelector('#state');
      if (old) old.replaceWith(stateCard());
      const hb = root.querySelector('#vehicle-badges');
      if (hb && live) clear(hb).append(badgeCell({ ...(data.vehicle?.badges || {}), ...pick(live.badges, ['tyres', 'faults', 'battery']) }));
    } else if ((kind === 'alert' && detail.vin === vin) || kind === 'snapshot') {
      refetchSoon();
    }
  });

  load();
  render();
  return {
    render,
    destroy() {
      unsubscribe();
      clearTimeout(refetchTimer);
      for (const c of charts) c.destroy();
      root.remove();
    },
  };
}

/* the message after an action, in the language of the moment */
export function flashText(f) {
  if (f.kind === 'ok') return t('act_done', { status: statusName(f.status) });
  return f.closed ? t('act_closed') : t('act_failed', { msg: f.msg });
}

function pick(o, keys) {
  const r = {};
  for (const k of keys) if (o && k in o) r[k] = o[k];
  return r;
}

function mergeTires(a, b) {
  const out = { ...(a || {}) };
  for (const [w, v] of Object.entries(b || {})) out[w] = { ...(out[w] || {}), ...v };
  return out;
}
