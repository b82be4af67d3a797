// labels — how alerts, badges and statuses read in the console (shared by
// the list, the vehicle page, the work lists and the arrivals).

import { h, levelChip, num } from './dom.js';
import { t } from './i18n.js';

export const BADGES = ['tyres', 'faults', 'battery', 'fuel', 'service', 'insurance'];

export function badgeCell(badges) {
  const b = badges || {};
  return h('span', { class: 'badges' },
    BADGES.map((k) => {
      const chip = levelChip(b[k] || 'ok', t('badge_' + k));
      chip.dataset.badge = k;
      chip.dataset.level = b[k] || 'ok';
      return chip;
    }));
}

const tr = (prefix, v) => {
  if (v === null || v === undefined || v === '') return t('unknown');
  const k = prefix + v;
  const s = t(k);
  return s === k ? String(v) : s;
};

export const wheelName = (w) => tr('wheel_', w);
export const statusName = (s) => tr('status_', s);
export const tierName = (s) => tr('tier_', s);
export const serviceKind = (s) => tr('svc_', s);
export const ignitionName = (s) => tr('ignition_', s);
export const dtcStatus = (s) => tr('dtc_', s);
export const policyKind = (s) => tr('policy_', s);

/* The alert's subject as a person reads it: a wheel's name, a code, a date. */
export function subjectName(a) {
  if (!a.subject) return '';
  return a.type === 'tyre_pressure' || a.type === 'tyre_tread' ? wheelName(a.subject) : String(a.subject);
}

/* One line saying what the alert is about, from its event fields. */
export function describeAlert(a) {
  const d = a.detail || {};
  switch (a.type) {
    case 'tyre_pressure': {
      let s = `${wheelName(d.wheel || a.subject)} ${num(d.kpa)} kPa`;
      if (d.reason) s += ` · ${tr('reason_', d.reason)}`;
      if (d.drop_kpa) s += ` (−${num(d.drop_kpa)} kPa / ${num(d.within_h)} h)`;
      return s;
    }
    case 'tyre_tread':
      return `${wheelName(d.wheel || a.subject)} ${num(d.tread_mm, 1)} mm`;
    case 'fault':
      return `${d.code || a.subject || ''} ${dtcStatus(d.status)}${d.mil ? ' · MIL' : ''}`;
    case 'battery_low':
      return `${num(d.battery_v, 1)} V`;
    case 'fuel_anomaly':
      return `${num(d.recent_l_per_100km, 1)} / ${num(d.baseline_l_per_100km, 1)} L/100km (${num(d.ratio, 2)}×)`;
    case 'odometer_rollback':
      return `${num(d.reported_km)} km < ${num(d.odometer_km)} km`;
    case 'maintenance_due':
    case 'maintenance_overdue':
      return [d.limit_date || d.predicted_date,
        typeof d.remaining_km === 'number'
          ? t(d.remaining_km < 0 ? 'km_over' : 'km_left', { v: num(Math.abs(d.remaining_km)) }) : null]
        .filter(Boolean).join(' · ');
    case 'insurance_due':
      return `${d.insurer || ''} ${policyKind(d.policy_kind)} ${d.expiry_date || ''}`;
    case 'lost_customer':
      return `${d.last_visit_date || d.purchase_date || ''} · ${num(d.days_since)} d`;
    case 'followup_due':
      return `${d.visit_date || d.purchase_date || ''} ${d.visit_kind ? serviceKind(d.visit_kind) : ''}`;
    default:
      return '';
  }
}
