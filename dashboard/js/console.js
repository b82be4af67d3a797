// console — the advisor console's entry point: login, the live socket
// (pitwall.advisor.v1) feeding the store, the hash router (#/, #/vehicle/VIN,
// #/work, #/arrivals), the language toggle and arrival toasts. Only VINs
// and list names appear in the page URL, never a customer's data.

import { api } from './api.js';
import { h, setSite } from './dom.js';
import { applyStatic, getLang, setLang, t } from './i18n.js';
import { applyFrame, resetStore, subscribe } from './store.js';
import { createArrivalsView } from './view-arrivals.js';
import { createListView } from './view-list.js';
import { createVehicleView } from './view-vehicle.js';
import { createWorkView } from './view-work.js';
import { liveSocket } from './ws.js';

const $ = (sel) => document.querySelector(sel);
let me = null;
let socket = null;
let view = null;
let connState = ['connecting'];
let watching = []; /* the VINs whose every frame this page wants at once */

const VIN_RE = /^[A-HJ-NPR-Z0-9]{17}$/;

/* Tells the gateway which vehicles this page shows in full (docs/api.md
   "watch"): the vehicle page its own; the lists none — their routine
   refreshes then come batched once a second, while badge changes, alerts
   and arrivals still come at once. Said again after every reconnect. */
function sendWatch() {
  if (socket) socket.send({ type: 'watch', vins: watching });
}

function route() {
  if (!me) return;
  const hash = location.hash || '#/';
  const m = hash.match(/^#\/vehicle\/([A-Za-z0-9]{1,32})$/);
  let name = 'vehicles';
  if (view) view.destroy();
  const main = $('#main');
  const vin = m ? m[1].toUpperCase() : null;
  watching = vin && VIN_RE.test(vin) ? [vin] : [];
  sendWatch();
  if (m) {
    name = 'vehicles';
    view = createVehicleView(main, vin);
  } else if (hash.startsWith('#/work')) {
    name = 'work';
    view = createWorkView(main, { tab: hash.split('/')[2] });
  } else if (hash.startsWith('#/arrivals')) {
    name = 'arrivals';
    view = createArrivalsView(main);
  } else {
    view = createListView(main);
  }
  if (!m) document.title = t('app_title');
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function showConn(state, seconds) {
  connState = [state, seconds];
  const el = $('#conn');
  el.dataset.state = state;
  el.textContent = state === 'open' ? t('conn_live') : state === 'connecting' ? t('conn_connecting')
    : t('conn_offline', { s: seconds });
}

function renderLangToggles() {
  for (const b of document.querySelectorAll('.lang-toggle')) {
    b.textContent = t('lang_switch');
    b.setAttribute('aria-label', t('lang_switch_label'));
    b.lang = getLang() === 'zh' ? 'en' : 'zh';
  }
}

function showLogin(message) {
  me = null;
  if (socket) socket.close();
  socket = null;
  if (view) view.destroy();
  view = null;
  resetStore();
  $('#app').hidden = true;
  $('#login').hidden = false;
  const err = $('#login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('#login-user').focus();
}

function startApp(user) {
  me = user;
  setSite(user.site && user.site.timezone, user.now);
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#login-password').value = '';
  $('#who').textContent = me.name || me.user;
  socket = liveSocket({
    protocol: 'pitwall.advisor.v1',
    onFrame: applyFrame,
    onState: (state, seconds) => {
      if (state === 'open') sendWatch();
      showConn(state, seconds);
    },
    onFailure: async () => {
      try {
        await api.me();
      } catch (e) {
        if (e.status === 401) showLogin(t('session_expired'));
      }
    },
  });
  route();
}

function toast(text) {
  const box = $('#toasts');
  const el = h('div', { class: 'toast', role: 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), 12000);
}

async function onLogin(e) {
  e.preventDefault();
  const btn = $('#login-submit');
  const err = $('#login-error');
  btn.disabled = true;
  btn.textContent = t('login_busy');
  err.hidden = true;
  try {
    const user = await api.login($('#login-user').value.trim(), $('#login-password').value);
    startApp(user);
  } catch (ex) {
    err.textContent = ex.status === 401 ? t('login_wrong')
      : ex.status === 429 ? t('login_locked', { s: ex.retryAfter || 60 })
        : t('login_failed', { msg: ex.message });
    err.hidden = false;
    $('#login-password').select();
  } finally {
    btn.disabled = false;
    btn.textContent = t('login_submit');
  }
}

async function boot() {
  applyStatic();
  renderLangToggles();
  for (const b of document.querySelectorAll('.lang-toggle'))
    b.addEventListener('click', () => setLang(getLang() === 'zh' ? 'en' : 'zh'));
  window.addEventListener('langchange', () => {
    applyStatic();
    renderLangToggles();
    showConn(...connState);
    if (view) view.render();
    if (me && !location.hash.startsWith('#/vehicle/')) document.title = t('app_title');
  });
  window.addEventListener('pw:unauthorized', () => {
    if (me) showLogin(t('session_expired'));
  });
  window.addEventListener('hashchange', route);
  $('#login-form').addEventListener('submit', onLogin);
  $('#logout').addEventListener('click', async () => {
    try {
      await api.logout();
    } catch {
      /* the session is gone either way */
    }
    showLogin();
  });
  subscribe((kind, a) => {
    if (kind === 'arrival' && a)
      toast(t('arrival_toast', { plate: a.plate || a.vin, name: a.customer?.name || a.customer_name || '', desk: a.desk || '—' }));
  });
  try {
    startApp(await api.me());
  } catch {
    showLogin();
  }
}

boot();
