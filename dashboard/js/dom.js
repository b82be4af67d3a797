// dom — building DOM nodes without innerHTML (every value from the server
// goes in as text, never as markup), and the number/date formats the pages
// share.

import { getLang, t } from './i18n.js';

/* h('tr', {class: 'x', dataset: {vin}}, child, 'text', [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const locale = () => (getLang() === 'zh' ? 'zh-CN' : 'en-GB');

export function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return t('unknown');
  return Number(v).toLocaleString(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function km(v) {
  return v === null || v === undefined ? t('unknown') : t('km', { v: num(v) });
}

export function pct(v, digits = 0) {
  return v === null || v === undefined ? t('unknown') : `${num(v * 100, digits)}%`;
}

/* The store's time zone and the gateway's clock, from the login answer:
 * times on the page are the store's whatever the desk PC is set to, and
 * "ago" counts from the gateway's now (a virtual clock in demos). */
let siteZone;
let clockOffsetMs = 0;

export function setSite(zone, gatewayNowMs) {
  try {
    siteZone = zone ? new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone : undefined;
  } catch {
    siteZone = undefined; // a zone this browser does not know: its own
  }
  clockOffsetMs = Number.isFinite(gatewayNowMs) ? gatewayNowMs - Date.now() : 0;
}

/* ms since the epoch → the store's date and time, minutes precision */
export function dateTime(ms) {
  if (!ms) return t('unknown');
  return new Date(ms).toLocaleString(locale(), {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
    timeZone: siteZone,
  });
}

export function timeOnly(ms) {
  if (!ms) return t('unknown');
  return new Date(ms).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: siteZone });
}

/* "2 min ago"-style, for the last report column */
export function ago(ms) {
  if (!ms) return t('unknown');
  const s = Math.round((Date.now() + clockOffsetMs - ms) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  if (Math.abs(s) < 60) return rtf.format(-s, 'second');
  if (Math.abs(s) < 3600) return rtf.format(-Math.round(s / 60), 'minute');
  if (Math.abs(s) < 86400) return rtf.format(-Math.round(s / 3600), 'hour');
  return rtf.format(-Math.round(s / 86400), 'day');
}

export const LEVELS = ['ok', 'info', 'warning', 'critical'];

export function levelRank(l) {
  const i = LEVELS.indexOf(l);
  return i < 0 ? 0 : i;
}

export function worse(a, b) {
  return levelRank(a) >= levelRank(b) ? a : b;
}

/* A level chip: text and a shape, so colour is never the only signal. */
export function levelChip(level, label) {
  const lv = LEVELS.includes(level) ? level : 'ok';
  const mark = { ok: '✓', info: 'i', warning: '!', critical: '‼' }[lv];
  return h('span', { class: `chip lv-${lv}`, title: `${label ? label + ': ' : ''}${t('level_' + lv)}` },
    h('span', { class: 'chip-mark', 'aria-hidden': 'true' }, mark),
    label ? ` ${label}` : ` ${t('level_' + lv)}`,
    label ? h('span', { class: 'sr-only' }, `: ${t('level_' + lv)}`) : null);
}

/* The event type's name ("tyre_pressure" → 胎压异常) */
export function evName(type) {
  const k = 'ev_' + type;
  const s = t(k);
  return s === k ? type : s;
}
