// The entrance display against the real gateway: idle it shows nothing
// personal; a plate read of a booked car (pitwall/v1/sites/{site}/anpr,
// published by pitwall-sim) greets the customer within a second — masked
// name and plate, the desk — and the greeting leaves after its ttl_s. The
// console's arrivals page gets the same arrival live, with the brief.
// After a gateway restart both pages reconnect by themselves and the next
// arrival is greeted too.

import { BASE, assert, env, launch, login, newPage, restartGateway, runSim, screenshot, steps } from './lib.mjs';

const browser = await launch();
const tv = await newPage(browser, { width: 1920, height: 1080 });
const consolePage = await newPage(browser);
const plate = env('PW_ARRIVAL_PLATE');
const fullName = env('PW_ARRIVAL_NAME');
const phone = env('PW_ARRIVAL_PHONE');
const desk = env('PW_ARRIVAL_DESK');
const honorific = `${fullName.slice(0, 1)}先生`;
let ttl = 0;
let shownAt = 0;

await steps([
  ['idle, the display shows no personal data', async () => {
    await tv.goto(`${BASE()}/welcome?display=${encodeURIComponent(env('PW_DISPLAY_TOKEN'))}`);
    await tv.waitForSelector('#link[data-state="open"]', { timeout: 10000 });
    assert(await tv.isVisible('#idle'), 'idle panel');
    assert((await tv.$$('[data-greeting-id]')).length === 0, 'no greeting yet');
    const text = await tv.textContent('body');
    assert(text.includes('欢迎光临'), 'welcome text');
    assert(!text.includes(fullName) && !text.includes(plate), 'nothing personal');
  }],

  ['the console is on today\'s arrivals', async () => {
    await login(consolePage);
    await consolePage.goto(`${BASE()}/#/arrivals`);
    await consolePage.waitForSelector('.arrivals-view h1');
    await consolePage.waitForSelector('#conn[data-state="open"]', { timeout: 10000 });
  }],

  ['a plate read at the entrance greets the customer within a second', async () => {
    const t0 = Date.now();
    const published = runSim([{ at_s: 0, plate, confidence: 0.97 }]);
    await tv.waitForSelector('[data-greeting-id]', { timeout: 5000 });
    shownAt = Date.now();
    await published;
    const latency = shownAt - t0;
    console.log(`  greeting shown ${latency} ms after pitwall-sim started`);
    assert(latency <= 1000, `greeting took ${latency} ms`);
    const g = await tv.textContent('[data-greeting-id]');
    assert(g.includes(`欢迎光临 ${honorific}`), `greeting: ${g}`);
    assert(g.includes(`请到 ${desk} 号前台`), `desk: ${g}`);
    const body = await tv.textContent('body');
    assert(!body.includes(fullName), 'no full name');
    assert(!body.includes(plate), 'no full plate');
    assert(!body.includes(phone), 'no phone');
    ttl = Number(await tv.getAttribute('[data-greeting-id]', 'data-ttl'));
    assert(ttl > 0 && ttl <= 600, `ttl_s ${ttl}`);
    await tv.waitForTimeout(800); /* the card's fade-in */
    await screenshot(tv, 'welcome-greeting');
  }],

  ['the console shows the arrival live with its brief', async () => {
    await consolePage.waitForSelector(`.arrival-card[data-vin="${env('PW_ARRIVAL_VIN')}"]`, { timeout: 5000 });
    await consolePage.waitForSelector(`.arrival-card[data-vin="${env('PW_ARRIVAL_VIN')}"] dl.brief`, { timeout: 5000 });
    await screenshot(consolePage, 'console-arrivals');
  }],

  ['the greeting clears after its ttl_s', async () => {
    const until = shownAt + ttl * 1000;
    const early = until - 2000 - Date.now();
    if (early > 0) {
      await tv.waitForTimeout(early);
      assert((await tv.$$('[data-greeting-id]')).length === 1, 'still shown shortly before ttl_s');
    }
    await tv.waitForFunction(() => document.querySelectorAll('[data-greeting-id]').length === 0,
      null, { timeout: Math.max(0, until - Date.now()) + 3000 });
    assert(await tv.isVisible('#idle'), 'idle again');
    await screenshot(tv, 'welcome-idle');
  }],

  ['after a gateway restart both pages reconnect and the next arrival is greeted', async () => {
    await restartGateway();
    await tv.waitForSelector('#link[data-state="open"]', { timeout: 30000 });
    await consolePage.waitForSelector('#conn[data-state="open"]', { timeout: 30000 });
    await runSim([{ at_s: 0, plate: env('PW_ARRIVAL2_PLATE'), confidence: 0.93 }]);
    await tv.waitForSelector('[data-greeting-id]', { timeout: 5000 });
    const g = await tv.textContent('[data-greeting-id]');
    const name2 = env('PW_ARRIVAL2_NAME');
    const honorific2 = `${name2.slice(0, 1)}${env('PW_ARRIVAL2_GENDER') === 'F' ? '女士' : '先生'}`;
    assert(g.includes(honorific2) && g.includes(`请到 ${env('PW_ARRIVAL2_DESK')} 号前台`), `greeting: ${g}`);
    assert(!g.includes(name2), 'no full name');
    assert(tv.pageErrors.length === 0 && consolePage.pageErrors.length === 0, 'no page errors');
  }],
], browser);
