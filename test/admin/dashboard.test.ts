/**
 * The live dashboard in a real browser (Debian's headless Chromium, driven by
 * playwright-core), against a running warpdrive with two proxy threads, two
 * supervised processes and traffic the test keeps flowing: the page must show the
 * upstream's requests per second and latency, each instance up with its process,
 * the routes, both threads, an error the test caused, the processes' output, and a
 * drain made with its button. The token reaches the page through `#token=`.
 *
 * The screenshot is written to a temporary file on every run (and checked to be a
 * real PNG); with UPDATE_SCREENSHOTS=1 it replaces docs/dashboard.png, the one the
 * README links to.
 *
 * Skipped (with the reason) when /usr/bin/chromium is not installed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Agent, request } from 'undici';
import { admin } from '../helpers/admin.js';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, outputMatching, repoRoot, startWarpdrive, writeConfig, type RunningWarpdrive } from '../helpers/warpdrive.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token';

/**
 * Waits until the text of `selector` on `page` satisfies `ok` (bounded). Polled from
 * here through locators: the page's Content-Security-Policy (no eval) is kept as
 * served, so page.waitForFunction's string form cannot run there.
 */
async function waitForText(page: Page, selector: string, ok: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = (await page.locator(selector).first().textContent({ timeout: timeoutMs }).catch(() => null)) ?? '';
    if (ok(text)) return text;
    if (Date.now() > deadline) throw new Error(`${selector} never showed what was expected; last text: ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the dashboard in a browser', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed` }, () => {
  let wd: RunningWarpdrive;
  let browser: Browser;
  let page: Page;
  let base: string;
  let stopTraffic = false;
  let traffic: Promise<number> | undefined;

  before(async () => {
    const demo = path.join(repoRoot(), 'examples', 'demo-app.mjs');
    const config = writeConfig(`
[server]
http_port = 0
bind_address = "127.0.0.1"
worker_threads = 2

[admin]
listen = "127.0.0.1:0"
token = "${TOKEN}"

[upstreams.api]
strategy = "least_conn"
[[upstreams.api.instances]]
socket = "api-0.sock"
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(demo)}]
process.env = { APP_NAME = "api-0", LISTEN = "api-0.sock" }
[[upstreams.api.instances]]
socket = "api-1.sock"
process.command = ${JSON.stringify(process.execPath)}
process.args = [${JSON.stringify(demo)}]
process.env = { APP_NAME = "api-1", LISTEN = "api-1.sock" }
[upstreams.api.health]
path = "/health"
interval_secs = 2
timeout_secs = 1

[upstreams.billing]
socket = "/nonexistent-warpdrive-test/billing.sock"

[[routes]]
path_prefix = "/billing"
upstream = "billing"
description = "Billing service"

[[routes]]
path_prefix = "/"
upstream = "api"
description = "API"
`);
    wd = await startWarpdrive(config, { env: cleanEnv });
    await outputMatching(wd, /admin listener on http:\/\/127\.0\.0\.1:\d+/);
    await outputMatching(wd, /api#0 \(unix:\S+\) process ready/);
    await outputMatching(wd, /api#1 \(unix:\S+\) process ready/);
    base = /admin listener on (http:\/\/127\.0\.0\.1:\d+)/.exec(wd.output())![1]!;

    // Steady traffic for the page to show, bounded in count and paced (not a load test).
    const agent = new Agent({ connections: 4 });
    traffic = (async () => {
      let sent = 0;
      while (!stopTraffic && sent < 20_000) {
        await Promise.all(Array.from({ length: 4 }, async (_, i) => (await request(`${wd.url}/users/${sent + i}`, { dispatcher: agent })).body.dump()));
        sent += 4;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await agent.close();
      return sent;
    })();

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 60_000,
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  });

  after(async () => {
    stopTraffic = true;
    await traffic;
    await browser?.close();
    await wd?.stop();
  });

  it('shows the fleet live: req/s and latency, instances with processes, routes, threads, errors, output; drain works', { timeout: 90_000 }, async () => {
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    await page.goto(`${base}/#token=${TOKEN}`);
    // The token moved from the URL into the tab's storage.
    for (const deadline = Date.now() + 10_000; page.url().includes('token'); ) {
      if (Date.now() > deadline) throw new Error(`the token stayed in the URL: ${page.url()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Live numbers: a second poll gives a rate; the traffic keeps it above zero.
    await waitForText(page, '[data-upstream="api"] .rps', (t) => Number(t) > 0, 20_000);
    await waitForText(page, '[data-upstream="api"] .p95', (t) => /ms$/.test(t), 20_000);

    for (const id of ['api#0', 'api#1']) {
      const row = page.locator(`tr[data-instance="${id}"]`);
      assert.equal(await row.locator('.state').textContent(), 'up');
      assert.match((await row.textContent()) ?? '', new RegExp(`${id.replace('#', '#')}unix:.*api-\\d\\.sock.*up.*${id} \\d+`));
    }
    assert.deepEqual(await page.locator('#routes tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-route'))), ['1', '2']);
    assert.match((await page.locator('#routes').textContent()) ?? '', /path under \/billing.*billing.*Billing service/);
    assert.match((await page.locator('#threads').textContent()) ?? '', /thread 0: .* thread 1: /);

    // An error the test causes shows up in "Recent errors", with its cause.
    assert.equal((await request(`${wd.url}/billing/invoices`)).statusCode, 502);
    await waitForText(page, '#errors', (t) => /502 WD_ERR_UPSTREAM_CONNECT/.test(t));
    assert.match((await page.locator('#errors').textContent()) ?? '', /GET 127\.0\.0\.1\/billing\/invoices.*billing#0.*ENOENT/);

    // The processes' own output, tailed.
    await waitForText(page, '#logs', (t) => /api-0 listening on api-0\.sock/.test(t));

    const shot = path.join(tempDir('wd-dashboard-'), 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.ok(png.length > 20_000, `a picture with content (${png.length} bytes)`);
    if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(shot, path.join(repoRoot(), 'docs', 'dashboard.png'));

    // The drain button takes api#0 out (on every thread, as the API confirms) and flips to "enable".
    await page.locator('tr[data-instance="api#0"] button', { hasText: 'drain' }).click();
    await waitForText(page, 'tr[data-instance="api#0"] .state', (t) => t === 'drained');
    const status = (await admin(base, '/api/status', { token: TOKEN })).json<{ upstreams: { instances: { id: string; drained: boolean }[] }[] }>();
    assert.deepEqual(status.upstreams[0]!.instances.map((i) => [i.id, i.drained]), [['api#0', true], ['api#1', false]]);
    await page.locator('tr[data-instance="api#0"] button', { hasText: 'enable' }).click();
    await waitForText(page, 'tr[data-instance="api#0"] .state', (t) => t === 'up');

    assert.deepEqual(failures, [], 'no script error on the page');
  });

  it('without the token the page says what is missing instead of showing nothing', { timeout: 30_000 }, async () => {
    const fresh = await browser.newPage();
    await fresh.goto(`${base}/`);
    await waitForText(fresh, '#problem', (t) => /token/.test(t));
    assert.match((await fresh.locator('#problem').textContent()) ?? '', /cannot read \/api\/status: missing or wrong token.*open \/#token=/);
    await fresh.close();
  });
});
