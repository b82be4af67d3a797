// charts — small uPlot line charts of a vehicle's history series
// (odometer, fuel use, tyre tread). uPlot is served locally from
// /vendor/ (copied there from node_modules by scripts/install-deps).

import { h } from './dom.js';
import { t } from './i18n.js';
import { wheelName } from './labels.js';

const COLORS = ['#1f5fbf', '#c2410c', '#15803d', '#7c3aed'];

/* points: [[ts_ms, y1, y2, …], …]; names: one per y column */
export function lineChart(title, points, names, unit) {
  const fig = h('figure', { class: 'chart' }, h('figcaption', null, title));
  if (!window.uPlot) {
    fig.append(h('p', { class: 'muted' }, t('chart_unavailable')));
    return { el: fig, mount() {}, destroy() {} };
  }
  if (!points || !points.length) {
    fig.append(h('p', { class: 'muted' }, t('chart_empty')));
    return { el: fig, mount() {}, destroy() {} };
  }
  const data = [points.map((p) => p[0] / 1000)];
  names.forEach((_, i) => data.push(points.map((p) => (p[i + 1] === undefined ? null : p[i + 1]))));
  let plot = null;
  const host = h('div', { class: 'chart-host', role: 'img', 'aria-label': title });
  fig.append(host);
  return {
    el: fig,
    mount() {
      const width = Math.max(260, host.clientWidth || 360);
      plot = new window.uPlot({
        width,
        height: 170,
        legend: { show: names.length > 1 },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
          value: (u, v) => (v === null ? '—' : `${v.toFixed(1)} ${unit}`) }))],
        axes: [{ stroke: '#555' }, { stroke: '#555', size: 56 }],
      }, data, host);
    },
    destroy() {
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

export function vehicleCharts(series) {
  const s = series || {};
  return [
    lineChart(t('chart_odometer'), s.odometer_km, [t('field_odometer')], 'km'),
    lineChart(t('chart_fuel'), s.fuel_l_per_100km, [t('field_fuel_use')], 'L/100km'),
    lineChart(t('chart_tread'), s.tread_mm, ['fl', 'fr', 'rl', 'rr'].map(wheelName), 'mm'),
  ];
}
