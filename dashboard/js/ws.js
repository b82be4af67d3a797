// ws — a WebSocket to /ws that keeps itself connected: after a close or a
// failed connect it waits (0.5 s doubling to 15 s, with jitter) and tries
// again; the wait resets once a connection has stayed up for 10 s. Used by
// the console (pitwall.advisor.v1) and the welcome display
// (pitwall.welcome.v1). Frames are parsed JSON handed to onFrame; onState
// hears 'connecting', 'open' and ('closed', retryInSeconds); send() writes
// a message to the server while connected.

const MIN_MS = 500;
const MAX_MS = 15000;
const STABLE_MS = 10000;

export function liveSocket({ protocol, query = '', onFrame, onState = () => {}, onFailure = () => {} }) {
  let ws = null;
  let timer = null;
  let delay = MIN_MS;
  let openedAt = 0;
  let stopped = false;
  let failures = 0;

  const url = () => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws${query}`;
  };

  function open() {
    if (stopped) return;
    timer = null;
    onState('connecting');
    try {
      ws = new WebSocket(url(), protocol);
    } catch {
      schedule();
      return;
    }
    ws.onopen = () => {
      openedAt = Date.now();
      failures = 0;
      onState('open');
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return; /* not ours to crash on */
      }
      if (frame && typeof frame.type === 'string') onFrame(frame);
    };
    ws.onclose = () => {
      ws = null;
      if (stopped) return;
      if (openedAt && Date.now() - openedAt >= STABLE_MS) delay = MIN_MS;
      if (!openedAt) failures += 1;
      openedAt = 0;
      if (failures >= 2) onFailure(failures); /* e.g. the session expired: the caller checks */
      schedule();
    };
  }

  function schedule() {
    const wait = Math.min(MAX_MS, delay) * (0.8 + Math.random() * 0.4);
    delay = Math.min(MAX_MS, delay * 2);
    onState('closed', Math.ceil(wait / 1000));
    timer = setTimeout(open, wait);
  }

  open();
  return {
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (ws) ws.close(1000);
      ws = null;
    },
    /* sends a message (as JSON) if connected; false otherwise — a caller
       that must be heard resends it on the next 'open' */
    send(obj) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(obj));
      return true;
    },
    /* reconnect now (e.g. after logging in again) */
    kick() {
      if (stopped) return;
      if (timer) {
        clearTimeout(timer);
        delay = MIN_MS;
        open();
      }
    },
  };
}
