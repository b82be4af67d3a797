// store — the console's live picture, fed by the advisor WebSocket frames
// (docs/api.md "WebSocket /ws") and by REST answers: vehicle summaries by
// VIN, the newest active alerts, today's arrivals. Views subscribe and are
// told what changed: ('snapshot'), ('vehicle', vin), ('alert', alert),
// ('arrival', arrival).

import { worse } from './dom.js';

export const store = {
  vehicles: new Map(),
  alerts: [],
  arrivals: [],
  snapshotSeen: false,
};

const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(kind, detail) {
  for (const fn of [...listeners]) {
    try {
      fn(kind, detail);
    } catch (e) {
      console.error(e);
    }
  }
}

const REMINDER_BADGE = {
  maintenance_due: ['service', 'warning'],
  maintenance_overdue: ['service', 'critical'],
  fuel_anomaly: ['fuel', 'warning'],
};

/* Merges summaries from the REST lists (dealer fields and all badges). */
export function mergeSummaries(items) {
  for (const s of items || []) {
    if (!s || !s.vin) continue;
    const old = store.vehicles.get(s.vin);
    store.vehicles.set(s.vin, old ? { ...old, ...s, badges: { ...old.badges, ...s.badges } } : s);
  }
}

const VEHICLE_FIELDS = ['odometer_km', 'speed_kmh', 'fuel_pct', 'battery_v', 'ignition', 'online', 'seq',
  'tires', 'dtc', 'fuel_l_per_100km'];

function onVehicle(f) {
  const v = store.vehicles.get(f.vin) || { vin: f.vin, plate: null, customer: null, badges: {}, partial: true };
  for (const k of VEHICLE_FIELDS) if (k in f) v[k] = f[k];
  if (f.ts) v.seen_ts = f.ts;
  v.badges = { ...(v.badges || {}), ...(f.badges || {}) };
  store.vehicles.set(f.vin, v);
  emit('vehicle', f.vin);
}

/* An alert or reminder frame in the shape of the REST alert object. */
export function frameToAlert(f) {
  const { type: frameType, event, alert_id: alertId, id, vin, ts, severity, ...rest } = f;
  const v = store.vehicles.get(vin);
  return {
    id: alertId ?? id,
    event_id: id,
    frame: frameType,
    vin,
    plate: f.plate ?? (v && v.plate) ?? null,
    customer_name: f.customer_name ?? (v && v.customer && v.customer.name) ?? null,
    kind: event,
    type: event,
    subject: rest.wheel ?? rest.code ?? null,
    severity,
    status: 'open',
    active: true,
    opened_ts: ts,
    updated_ts: ts,
    detail: rest,
  };
}

function onAlert(f) {
  const a = frameToAlert(f);
  store.alerts = [a, ...store.alerts.filter((x) => x.id !== a.id)].slice(0, 200);
  const v = store.vehicles.get(a.vin);
  if (v) {
    const b = REMINDER_BADGE[a.type] || (a.type === 'insurance_due' ? ['insurance', a.severity] : null);
    if (b) {
      v.badges = { ...(v.badges || {}), [b[0]]: worse(v.badges?.[b[0]] || 'ok', b[1]) };
      emit('vehicle', a.vin);
    }
  }
  emit('alert', a);
}

function onArrival(f) {
  const { type, ...a } = f;
  if (!a.arrived_ts && a.ts) a.arrived_ts = a.ts;
  store.arrivals = [a, ...store.arrivals.filter((x) => x.id !== a.id)];
  emit('arrival', a);
}

export function applyFrame(f) {
  switch (f.type) {
    case 'snapshot':
      store.vehicles = new Map();
      mergeSummaries(f.vehicles);
      store.alerts = Array.isArray(f.alerts) ? f.alerts : [];
      store.arrivals = Array.isArray(f.arrivals) ? f.arrivals : [];
      store.snapshotSeen = true;
      emit('snapshot');
      break;
    case 'vehicle':
      if (f.vin) onVehicle(f);
      break;
    case 'alert':
    case 'reminder':
      if (f.vin) onAlert(f);
      break;
    case 'arrival':
      onArrival(f);
      break;
    default:
      break; /* a frame type this console does not know yet */
  }
}

export function resetStore() {
  store.vehicles = new Map();
  store.alerts = [];
  store.arrivals = [];
  store.snapshotSeen = false;
}
