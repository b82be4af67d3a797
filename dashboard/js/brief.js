// brief — renders a vehicle's health brief (gateway/src/brief.h; the same
// object in GET /api/vehicles/{vin} and in arrival frames) as a definition
// list an advisor reads before walking out to the car.

import { evName, h, km, levelChip, num, pct } from './dom.js';
import { t } from './i18n.js';
import { dtcStatus, policyKind, serviceKind, subjectName, wheelName } from './labels.js';

const WHEELS = ['fl', 'fr', 'rl', 'rr'];

function row(label, ...value) {
  return [h('dt', null, label), h('dd', null, ...value)];
}

/* `descriptions`: code -> text (from the vehicle's state.dtc), optional. */
export function renderBrief(b, descriptions = {}) {
  if (!b) return h('p', { class: 'muted' }, t('unknown'));
  const dl = h('dl', { class: 'brief' });
  const ls = b.last_service;
  dl.append(...row(t('brief_last_service'),
    ls ? `${ls.date} · ${serviceKind(ls.kind)} · ${km(ls.odometer_km)}` : t('none')));
  if (b.km_since_service !== null && b.km_since_service !== undefined)
    dl.append(...row(t('brief_km_since'), t('brief_km_since_v', { km: num(b.km_since_service), days: num(b.days_since_service) })));
  const m = b.maintenance;
  if (m) {
    const level = { ok: 'ok', due: 'warning', overdue: 'critical' }[m.state] || 'ok';
    const over = m.remaining_km < 0 || m.days_remaining < 0;
    dl.append(...row(t('brief_maint_state'), levelChip(level, t('maint_' + m.state)), ' ',
      over
        ? t('brief_over_v', { date: m.limit_date || m.predicted_date, km: num(Math.max(0, -m.remaining_km)),
          days: num(Math.max(0, -m.days_remaining)) })
        : t('brief_next_v', { date: m.predicted_date || m.limit_date, km: num(m.remaining_km), days: num(m.days_remaining) })));
    if (m.daily_km !== null && m.daily_km !== undefined) dl.append(...row(t('brief_daily_km'), km(m.daily_km)));
  }
  const ty = b.tyres;
  if (ty && Object.keys(ty).length) {
    dl.append(...row(t('brief_tyres'), h('span', { class: 'tyre-brief' }, WHEELS.filter((w) => ty[w]).map((w) => {
      const x = ty[w];
      const lvl = [x.pressure, x.tread].includes('critical') ? 'critical'
        : [x.pressure, x.tread].includes('warning') ? 'warning' : 'ok';
      return h('span', { class: 'tyre-item', dataset: { wheel: w } }, levelChip(lvl, wheelName(w)),
        ` ${num(x.kpa)} kPa · ${num(x.tread_mm, 1)} mm `);
    }))));
  }
  dl.append(...row(t('brief_dtc'), b.dtc && b.dtc.length
    ? h('ul', { class: 'plain' }, b.dtc.map((d) => h('li', null, levelChip(d.severity, d.code), ' ',
      dtcStatus(d.status), d.mil ? ' · MIL' : '', descriptions[d.code] ? ` — ${descriptions[d.code]}` : '')))
    : t('dtc_none')));
  const f = b.fuel;
  dl.append(...row(t('brief_fuel'), f && f.baseline_l_per_100km
    ? [f.anomaly ? levelChip('warning') : null, ' ', t('brief_fuel_v', {
      recent: num(f.recent_l_per_100km, 1), base: num(f.baseline_l_per_100km, 1), ratio: num(f.ratio, 2) })]
    : t('brief_fuel_none')));
  const p = b.profile;
  if (p && p.km) {
    const notes = [];
    if (p.highway_share >= 0.4) notes.push(t('brief_profile_hw'));
    if (p.congestion_share >= 0.3) notes.push(t('brief_profile_cg'));
    dl.append(...row(t('brief_profile'), t('brief_profile_v', {
      days: p.window_days, km: num(p.km), hw: pct(p.highway_share), cg: pct(p.congestion_share) }),
    notes.length ? h('div', { class: 'note' }, notes.join('；')) : null));
  }
  const ins = b.insurance || [];
  dl.append(...row(t('brief_insurance'), ins.length
    ? h('ul', { class: 'plain' }, ins.map((i) => {
      const lvl = i.days_left < 0 ? 'critical' : i.days_left <= 30 ? 'warning' : i.days_left <= 90 ? 'info' : 'ok';
      const vars = { insurer: i.insurer, kind: policyKind(i.policy_kind), date: i.expiry_date, days: i.days_left };
      return h('li', null, levelChip(lvl), ' ',
        t(i.days_left < 0 ? 'brief_insurance_expired' : 'brief_insurance_v', vars));
    }))
    : t('brief_insurance_none')));
  const al = b.alerts || [];
  dl.append(...row(t('brief_alerts'), al.length
    ? h('ul', { class: 'plain' }, al.map((a) => h('li', null, levelChip(a.severity), ' ', evName(a.type),
      a.subject ? ` (${subjectName(a)})` : '')))
    : t('none')));
  return dl;
}
