// view-arrivals — today's arrivals (#/arrivals): GET /api/arrivals plus the
// live `arrival` frames, newest first, each with its health brief, so the
// advisor walks out to the car already knowing what it needs.

import { api } from './api.js';
import { renderBrief } from './brief.js';
import { clear, h, timeOnly } from './dom.js';
import { t } from './i18n.js';
import { store, subscribe } from './store.js';

export function createArrivalsView(main) {
  let items = [];
  let error = null;
  let loading = true;
  const root = h('section', { class: 'view arrivals-view' });
  main.append(root);

  /* REST rows carry the arrival's number, events "a<number>": one key for both */
  const key = (a) => String(a.id ?? `${a.vin}-${a.arrived_ts}`).replace(/^a/, '');

  function merge(list) {
    const byId = new Map(items.map((a) => [key(a), a]));
    for (const a of list || []) byId.set(key(a), { ...(byId.get(key(a)) || {}), ...a });
    items = [...byId.values()].sort((a, b) => (b.arrived_ts || 0) - (a.arrived_ts || 0));
  }

  async function load() {
    try {
      const r = await api.arrivals();
      merge(r.items);
      error = null;
    } catch (e) {
      error = t('load_failed', { msg: e.message });
    }
    loading = false;
    render();
  }

  function render() {
    clear(root);
    root.append(h('h1', null, t('arrivals_title')));
    if (error) root.append(h('p', { class: 'error', role: 'alert' }, error));
    if (loading && !items.length) return root.append(h('p', { class: 'muted' }, t('loading')));
    if (!items.length) return root.append(h('p', { class: 'empty' }, t('arrivals_none')));
    root.append(h('ol', { class: 'arrival-list' }, items.map((a) => {
      const name = a.customer?.name || a.customer_name || t('unknown');
      return h('li', { class: `arrival-card${a.vip ? ' vip' : ''}`, dataset: { vin: a.vin, arrivalId: String(a.id) } },
        h('div', { class: 'arrival-head' },
          h('span', { class: 'time' }, t('arrival_at', { t: timeOnly(a.arrived_ts) })),
          h('a', { class: 'plate', href: `#/vehicle/${encodeURIComponent(a.vin)}` }, a.plate || a.vin),
          h('span', null, name),
          a.vip ? h('span', { class: 'tag vip' }, t('vip')) : null,
          h('span', null, [a.advisor || a.advisor_id, a.desk ? t('arrival_desk', { desk: a.desk }) : null]
            .filter(Boolean).join(' · ')),
          a.match ? h('span', { class: 'muted small' }, t('arrival_match_' + a.match)) : null,
          a.source ? h('span', { class: 'muted small' }, t('arrival_source_' + a.source)) : null,
          a.departed_ts ? h('span', { class: 'tag' }, t('arrival_departed')) : null),
        a.brief ? renderBrief(a.brief) : null);
    })));
  }

  merge(store.arrivals);
  const unsubscribe = subscribe((kind, detail) => {
    if (kind === 'arrival') {
      merge([detail]);
      render();
    } else if (kind === 'snapshot') {
      merge(store.arrivals);
      render();
    }
  });
  render();
  load();
  return { render, destroy() { unsubscribe(); root.remove(); } };
}
