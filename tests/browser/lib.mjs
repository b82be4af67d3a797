// lib — what the browser tests share: Debian's chromium through
// playwright-core (never a downloaded browser), the PW_* environment that
// tests/browser/run sets up, pitwall-sim scenarios, small waits and checks.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set: run the tests through tests/browser/run`);
  return v;
};

export const BASE = () => env('PW_BASE_URL');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.PW_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
}

/* A page that fails the test on any uncaught page error. */
export async function newPage(browser, viewport = { width: 1600, height: 1000 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.pageErrors = [];
  page.on('pageerror', (e) => page.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) console.log(`  [page] ${m.text()}`);
  });
  return page;
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export async function screenshot(page, name) {
  const file = path.join(env('PW_SCREENSHOTS'), `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  console.log(`  screenshot ${file}`);
}

/* Runs pitwall-sim on a scenario (steps as in firmware-sim/README.md) on the
 * gateway's virtual clock; resolves when it exits 0 (every message acked). */
export function runSim(steps) {
  const file = path.join(env('PW_WORKDIR'), `scenario-${process.hrtime.bigint()}.json`);
  fs.writeFileSync(file, JSON.stringify({ site: env('PW_SITE'), steps }));
  const args = ['--broker', env('PW_BROKER_URI'), '--scenario', file, ...JSON.parse(env('PW_CLOCK'))];
  return new Promise((resolve, reject) => {
    const p = spawn(env('PW_SIM'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.stdout.resume();
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pitwall-sim exit ${code}: ${err.slice(-1500)}`))));
  });
}

/* Logs in through the form. */
export async function login(page) {
  await page.goto(`${BASE()}/`);
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-user', env('PW_USER'));
  await page.fill('#login-password', env('PW_PASSWORD'));
  await page.click('#login-submit');
  await page.waitForSelector('#app', { state: 'visible' });
}

/* Runs named steps in order, printing each; the first failure ends the file. */
export async function steps(list, browser) {
  let failed = false;
  for (const [name, fn] of list) {
    const t0 = Date.now();
    try {
      await fn();
      console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.stack || e}`);
      failed = true;
      break;
    }
  }
  if (browser) await browser.close();
  process.exit(failed ? 1 : 0); /* also ends the stdin reader of restartGateway */
}

/* Asks tests/browser/run to restart the gateway (SIGTERM, start again,
 * healthy); resolves once it is back. */
let stdinLines = null;
export async function restartGateway() {
  if (!stdinLines) {
    stdinLines = [];
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        stdinLines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  process.stdout.write('@@pw restart-gateway\n');
  const deadline = Date.now() + 60000;
  while (!stdinLines.length) {
    if (Date.now() > deadline) throw new Error('no answer to restart-gateway');
    await new Promise((r) => setTimeout(r, 50));
  }
  const answer = stdinLines.shift();
  if (answer !== 'ok') throw new Error(`restart-gateway: ${answer}`);
}
