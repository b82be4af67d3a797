// The advisor console against the real gateway: a wrong password is
// refused, logging in shows the live list; the test car's tyre starts
// leaking (pitwall-sim) and its tyre badge changes without a reload; its
// vehicle page shows the alert, which is marked contacted with a note that
// then appears in the alert history; the language switch shows English.

import { BASE, assert, env, launch, login, newPage, runSim, screenshot, steps } from './lib.mjs';

const browser = await launch();
const page = await newPage(browser);
const vin = env('PW_TYRE_VIN');
const plate = env('PW_TYRE_PLATE');
const row = `tr[data-vin="${vin}"]`;
const tyreBadge = `${row} [data-badge="tyres"]`;
const note = `浏览器测试：已电话联系车主，建议尽快补胎 ${Date.now()}`;

await steps([
  ['a wrong password shows an error and no console', async () => {
    await page.goto(`${BASE()}/`);
    await page.waitForSelector('#login-form', { state: 'visible' });
    assert((await page.getAttribute('html', 'lang')) === 'zh-CN', 'Chinese by default');
    await page.fill('#login-user', env('PW_USER'));
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:not([hidden])');
    const text = await page.textContent('#login-error');
    assert(text.includes('用户名或密码错误'), `error text: ${text}`);
    assert(await page.isHidden('#app'), 'the console stays hidden');
  }],

  ['logging in shows the live vehicle list with the test car, tyres ok', async () => {
    await login(page);
    await page.waitForSelector('#conn[data-state="open"]', { timeout: 10000 });
    await page.fill('#vehicle-search', plate);
    await page.waitForSelector(row, { timeout: 10000 });
    const level = await page.getAttribute(tyreBadge, 'data-level');
    assert(level === 'ok', `tyre badge before the leak: ${level}`);
    assert(!page.url().includes(plate) && !page.url().includes(encodeURIComponent(plate)), 'no search term in the URL');
    await page.fill('#vehicle-search', '');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-vin]').length > 20);
    await screenshot(page, 'console-list');
  }],

  ['the tyre badge changes without a reload when the tyre leaks', async () => {
    await page.fill('#vehicle-search', plate);
    await page.waitForSelector(row);
    await page.evaluate(() => { window.__noReload = true; });
    const tyres = (fl) => ({ fl: { kpa: fl, temp_c: 18.0 }, fr: { kpa: 236.0, temp_c: 18.0 },
      rl: { kpa: 236.0, temp_c: 18.0 }, rr: { kpa: 236.0, temp_c: 18.0 } });
    await runSim([
      { at_s: 0, telemetry: { vin, tires: tyres(226.0) } },
      { at_s: 1, telemetry: { vin, tires: tyres(212.0) } },
      { at_s: 2, telemetry: { vin, tires: tyres(198.0) } },
      { at_s: 3, telemetry: { vin, tires: tyres(166.0) } },
    ]);
    await page.waitForFunction((sel) => {
      const b = document.querySelector(sel);
      return b && b.dataset.level !== 'ok';
    }, tyreBadge, { timeout: 15000 });
    assert(await page.evaluate(() => window.__noReload === true), 'the page was not reloaded');
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.level === 'critical', tyreBadge,
      { timeout: 10000 });
  }],

  ['the vehicle page shows the tyre alert; marking it contacted with a note puts it in the history', async () => {
    await page.click(`${row} a.plate`);
    await page.waitForSelector(`.vehicle-view[data-vin="${vin}"] #brief`, { timeout: 10000 });
    assert(page.url().endsWith(`#/vehicle/${vin}`), `url ${page.url()}`);
    const card = `.alert-card[data-type="tyre_pressure"]`;
    await page.waitForSelector(card, { timeout: 15000 });
    await page.fill(`${card} textarea`, note);
    await page.click(`${card} button[data-action="contacted"]`);
    await page.waitForSelector('.flash.ok', { timeout: 10000 });
    await page.waitForFunction((n) => [...document.querySelectorAll('table.history tbody tr')]
      .some((tr) => tr.textContent.includes(n) && tr.textContent.includes('已联系')), note, { timeout: 10000 });
    const status = await page.textContent(`${card} .status-tag`);
    assert(status.includes('已联系'), `alert status shown: ${status}`);
    await screenshot(page, 'vehicle-page');
  }],

  ['switching the language shows English labels, remembered after a reload', async () => {
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const nav = await page.textContent('nav');
    assert(nav.includes('Vehicles') && nav.includes('Work lists'), `nav: ${nav}`);
    const h = await page.textContent('#history-h');
    assert(h === 'Alert history', `history heading: ${h}`);
    assert(await page.isVisible('table.history >> text=Contacted'), 'history action in English');
    await page.reload();
    await page.waitForSelector('#history-h');
    assert((await page.textContent('#history-h')) === 'Alert history', 'English after reload');
    await screenshot(page, 'vehicle-page-en');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  }],

  ['the work lists load with phones and reasons', async () => {
    await page.goto(`${BASE()}/#/work`);
    await page.waitForSelector('#work-panel table.work, #work-panel .empty', { timeout: 10000 });
    await page.click('button[data-tab="insurance"]');
    await page.waitForSelector('#work-panel table.work tbody tr', { timeout: 10000 });
    const phone = await page.textContent('#work-panel table.work tbody tr td.phone');
    assert(/^1\d{10}$/.test(phone.trim()), `phone: ${phone}`);
    await screenshot(page, 'work-lists');
    assert(page.pageErrors.length === 0, `page errors: ${page.pageErrors.join('; ')}`);
  }],
], browser);
