// view-list — the live vehicle list: every vehicle of the snapshot (worst
// badge first), rows updated in place as frames arrive; a search box that
// asks GET /api/vehicles?q= (the term stays in the request, never in the
// page URL); the newest alerts beside it.

import { api } from './api.js';
import { ago, clear, dateTime, evName, h, km, levelChip, levelRank, num } from './dom.js';
import { t } from './i18n.js';
import { BADGES, badgeCell, describeAlert } from './labels.js';
import { mergeSummaries, store, subscribe } from './store.js';

const worst = (v) => Math.max(0, ...BADGES.map((k) => levelRank(v.badges?.[k])));

function compare(a, b) {
  return worst(b) - worst(a) || String(a.plate || a.vin).localeCompare(String(b.plate || b.vin));
}

export function createListView(main) {
  let query = '';
  let results = null; /* vins of the search answer, or null: the live list */
  let total = 0;
  let error = null;
  let searchSeq = 0;
  let debounce = null;
  let frame = 0;
  const rows = new Map(); /* vin -> {tr, sig} */

  const search = h('input', {
    id: 'vehicle-search', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: t('search_placeholder'),
  });
  const searchLabel = h('label', { for: 'vehicle-search', class: 'inline-label' }, t('search_label'));
  const caption = h('span', { class: 'muted', id: 'list-caption', role: 'status' });
  const tbody = h('tbody');
  const thead = h('thead');
  const table = h('table', { class: 'grid vehicles', 'aria-describedby': 'list-caption' }, thead, tbody);
  const empty = h('p', { class: 'empty', hidden: true });
  const feedTitle = h('h2');
  const feed = h('ol', { class: 'feed-list' });
  const root = h('section', { class: 'view list-view' },
    h('div', { class: 'toolbar' }, searchLabel, search, caption),
    h('div', { class: 'split' },
      h('div', { class: 'table-wrap' }, table, empty),
      h('aside', { class: 'feed', 'aria-labelledby': 'feed-title' }, feedTitle, feed)));
  feedTitle.id = 'feed-title';
  main.append(root);

  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => runSearch(search.value.trim()), 250);
  });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      search.value = '';
      runSearch('');
    }
  });

  async function runSearch(q) {
    query = q;
    const mine = ++searchSeq;
    if (!q) {
      results = null;
      error = null;
      schedule();
      return;
    }
    caption.textContent = t('loading');
    try {
      const r = await api.vehicles(q, 200, 0);
      if (mine !== searchSeq) return;
      mergeSummaries(r.items);
      results = (r.items || []).map((v) => v.vin);
      total = r.total ?? results.length;
      error = null;
    } catch (e) {
      if (mine !== searchSeq) return;
      error = e.message;
      results = [];
    }
    schedule();
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      renderRows();
    });
  }

  function renderHead() {
    clear(thead).append(h('tr', null,
      h('th', { scope: 'col' }, t('col_plate')),
      h('th', { scope: 'col' }, t('col_vehicle')),
      h('th', { scope: 'col' }, t('col_customer')),
      h('th', { scope: 'col', class: 'num' }, t('col_odometer')),
      h('th', { scope: 'col', class: 'num' }, t('col_fuel')),
      h('th', { scope: 'col', class: 'num' }, t('col_battery')),
      h('th', { scope: 'col' }, t('col_status')),
      h('th', { scope: 'col' }, t('col_health')),
      h('th', { scope: 'col' }, t('col_seen'))));
  }

  function rowFor(v) {
    const sig = JSON.stringify([v.plate, v.brand, v.model, v.customer, v.odometer_km, v.fuel_pct, v.battery_v,
      v.online, v.badges, v.seen_ts]);
    let r = rows.get(v.vin);
    if (r && r.sig === sig) return r.tr;
    const tr = r ? clear(r.tr) : h('tr', { dataset: { vin: v.vin } });
    tr.append(
      h('td', null, h('a', { href: `#/vehicle/${encodeURIComponent(v.vin)}`, class: 'plate' }, v.plate || v.vin)),
      h('td', null, [v.brand, v.model].filter(Boolean).join(' ') || t('unknown')),
      h('td', null, v.customer?.name || t('unknown')),
      h('td', { class: 'num' }, km(v.odometer_km)),
      h('td', { class: 'num' }, v.fuel_pct === null || v.fuel_pct === undefined ? t('unknown') : `${num(v.fuel_pct)}%`),
      h('td', { class: 'num' }, v.battery_v === null || v.battery_v === undefined ? t('unknown') : `${num(v.battery_v, 1)} V`),
      h('td', null, v.online === undefined || v.online === null ? t('unknown')
        : h('span', { class: v.online ? 'on' : 'off' }, v.online ? t('online') : t('offline'))),
      h('td', null, badgeCell(v.badges)),
      h('td', { class: 'muted', title: dateTime(v.seen_ts) }, ago(v.seen_ts)));
    rows.set(v.vin, { tr, sig });
    return tr;
  }

  function renderRows() {
    let list;
    if (results) {
      list = results.map((vin) => store.vehicles.get(vin)).filter(Boolean);
      caption.textContent = error ? t('load_failed', { msg: error }) : t('vehicles_found', { n: total });
    } else {
      list = [...store.vehicles.values()].sort(compare);
      caption.textContent = store.vehicles.size || store.snapshotSeen ? t('vehicles_live') : t('loading');
    }
    const wanted = list.map(rowFor);
    const keep = new Set(list.map((v) => v.vin));
    for (const [vin, r] of rows) if (!keep.has(vin)) { r.tr.remove(); rows.delete(vin); }
    const current = [...tbody.children];
    if (current.length !== wanted.length || wanted.some((tr, i) => current[i] !== tr)) {
      for (const tr of wanted) tbody.append(tr);
    }
    empty.hidden = list.length > 0;
    empty.textContent = t('vehicles_none');
  }

  function renderFeed() {
    feedTitle.textContent = t('recent_alerts');
    clear(feed);
    const items = store.alerts.slice(0, 30);
    if (!items.length) feed.append(h('li', { class: 'muted' }, t('no_alerts')));
    for (const a of items) {
      const v = store.vehicles.get(a.vin);
      feed.append(h('li', { class: `feed-item lv-${a.severity}` },
        levelChip(a.severity),
        h('a', { href: `#/vehicle/${encodeURIComponent(a.vin)}` }, ' ', a.plate || v?.plate || a.vin),
        ' ', h('strong', null, evName(a.type)),
        h('div', { class: 'muted small' }, describeAlert(a), ' · ', dateTime(a.opened_ts || a.updated_ts))));
    }
  }

  function render() {
    search.placeholder = t('search_placeholder');
    searchLabel.textContent = t('search_label');
    renderHead();
    for (const r of rows.values()) r.sig = null; /* every row again in the new language */
    renderRows();
    renderFeed();
  }

  const unsubscribe = subscribe((kind, detail) => {
    if (kind === 'snapshot') {
      if (query) runSearch(query);
      schedule();
      renderFeed();
    } else if (kind === 'vehicle') {
      if (!results || results.includes(detail)) schedule();
      const v = store.vehicles.get(detail);
      if (v && v.partial && !v.fetching) fillIn(v);
    } else if (kind === 'alert') {
      renderFeed();
    }
  });

  /* a vehicle known only from a frame: fetch its dealer fields once */
  async function fillIn(v) {
    v.fetching = true;
    try {
      const r = await api.vehicles(v.vin, 1, 0);
      const s = (r.items || []).find((x) => x.vin === v.vin);
      if (s) {
        const cur = store.vehicles.get(v.vin);
        mergeSummaries([{ ...s, ...pickLive(cur), badges: { ...s.badges, ...pickBadges(cur) } }]);
        store.vehicles.get(v.vin).partial = false;
        schedule();
      }
    } catch {
      /* stays partial; the next snapshot fills it */
    }
  }

  render();
  if (!store.snapshotSeen) {
    /* the socket may take a moment (or be down): show the list and the
     * newest alerts from REST meanwhile */
    api.vehicles('', 200, 0).then((r) => {
      if (!store.snapshotSeen) {
        mergeSummaries(r.items);
        schedule();
      }
    }).catch(() => {});
    api.alerts({ status: 'active', limit: 30 }).then((r) => {
      if (!store.snapshotSeen && !store.alerts.length) {
        store.alerts = (r.items || []).slice().sort((a, b) => (b.updated_ts || b.opened_ts || 0) - (a.updated_ts || a.opened_ts || 0));
        renderFeed();
      }
    }).catch(() => {});
  }
  const ticker = setInterval(() => {
    for (const r of rows.values()) r.sig = null;
    schedule();
  }, 30000);

  return {
    render,
    destroy() {
      unsubscribe();
      clearInterval(ticker);
      clearTimeout(debounce);
      if (frame) cancelAnimationFrame(frame);
      root.remove();
    },
  };
}

function pickLive(v) {
  const o = {};
  for (const k of ['odometer_km', 'fuel_pct', 'battery_v', 'ignition', 'online', 'seen_ts', 'seq']) if (v && k in v) o[k] = v[k];
  return o;
}

function pickBadges(v) {
  const b = v?.badges || {};
  const o = {};
  for (const k of ['tyres', 'faults', 'battery']) if (k in b) o[k] = b[k];
  return o;
}
