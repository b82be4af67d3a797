// welcome — the entrance display (1920×1080 TV). Connects to /ws with the
// subprotocol pitwall.welcome.v1 and the display token from its own URL
// (?display=TOKEN), shows each `greeting` (contract "Greeting") in large
// type, up to three at once, rotating pages of three when more cars arrive
// together; each greeting leaves after its ttl_s. It reconnects by itself
// after a network or gateway restart. Idle, it shows only the store's name
// (?store=, optional) and the clock: nothing personal.

import { h, clear } from './dom.js';
import { applyStatic, t, useLang } from './i18n.js';
import { liveSocket } from './ws.js';

useLang('zh');
applyStatic();

const PER_PAGE = 3;
const ROTATE_MS = 8000;
const params = new URLSearchParams(location.search);
const token = params.get('display') || '';
const storeName = params.get('store') || '';

const screen = document.getElementById('screen');
const idle = document.getElementById('idle');
const box = document.getElementById('greetings');
const more = document.getElementById('more');
const clock = document.getElementById('clock');
const link = document.getElementById('link');
document.getElementById('store-name').textContent = storeName;

/* id -> {g, expires} in arrival order */
const shown = new Map();
let page = 0;
let rotateTimer = null;
let localIds = 0;

function tick() {
  const now = new Date();
  clock.textContent = now.toLocaleString('zh-CN', {
    month: 'long', day: 'numeric', weekday: 'long', hour: '2-digit', minute: '2-digit', hour12: false,
  });
  let changed = false;
  for (const [id, e] of shown) {
    if (e.expires <= Date.now()) {
      shown.delete(id);
      changed = true;
    }
  }
  if (changed) render();
}

function card(g) {
  const name = g.display_name ? `${t('welcome_title')} ${g.display_name}` : t('welcome_title');
  return h('article', { class: 'greeting', dataset: { greetingId: String(g.id), ttl: String(g.ttl_s ?? '') } },
    h('div', { class: 'g-name' }, name),
    g.desk ? h('div', { class: 'g-desk' }, t('welcome_desk', { desk: g.desk })) : null,
    h('div', { class: 'g-meta' },
      g.plate_masked ? h('span', { class: 'g-plate' }, g.plate_masked) : null,
      g.service ? h('span', null, t('welcome_service', { service: g.service })) : null,
      g.advisor ? h('span', null, t('welcome_advisor', { name: g.advisor })) : null));
}

function render() {
  const list = [...shown.values()].map((e) => e.g);
  const pages = Math.max(1, Math.ceil(list.length / PER_PAGE));
  if (page >= pages) page = 0;
  clear(box);
  if (!list.length) {
    box.hidden = true;
    idle.hidden = false;
    screen.classList.add('idle');
    more.hidden = true;
  } else {
    const slice = list.slice(page * PER_PAGE, page * PER_PAGE + PER_PAGE);
    box.dataset.count = String(slice.length);
    box.append(...slice.map(card));
    box.hidden = false;
    idle.hidden = true;
    screen.classList.remove('idle');
    const rest = list.length - slice.length;
    more.hidden = rest <= 0;
    more.textContent = rest > 0 ? t('welcome_more', { n: rest }) : '';
  }
  if (pages > 1 && !rotateTimer) {
    rotateTimer = setInterval(() => {
      page += 1;
      render();
    }, ROTATE_MS);
  } else if (pages <= 1 && rotateTimer) {
    clearInterval(rotateTimer);
    rotateTimer = null;
  }
}

function onFrame(f) {
  if (f.type !== 'greeting') return;
  const ttl = Number.isFinite(f.ttl_s) && f.ttl_s > 0 ? Math.min(f.ttl_s, 3600) : 120;
  const id = f.id === undefined || f.id === null ? `local-${++localIds}` : String(f.id);
  const old = shown.get(id);
  /* a greeting sent again (e.g. after a reconnect) keeps its first deadline */
  shown.set(id, { g: { ...f, id }, expires: old ? old.expires : Date.now() + ttl * 1000 });
  if (!old) {
    /* the newest arrival goes on the page that is showing */
    const n = shown.size;
    page = Math.floor((n - 1) / PER_PAGE);
  }
  render();
}

liveSocket({
  protocol: 'pitwall.welcome.v1',
  query: token ? `?display=${encodeURIComponent(token)}` : '',
  onFrame,
  onState: (s) => {
    link.dataset.state = s;
  },
});

tick();
setInterval(tick, 1000);
render();
