import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../src/temporal/devServer.js';
import { projectRoot } from '../src/temporal/paths.js';
import { startLifecycleRig, type LifecycleRig } from './support/lifecycleRig.js';

// Debian's Chromium: these machines reach no browser download site, so playwright-core never fetches one.
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(projectRoot, '.scratch', 'webui');
// The UI loads lazily and polls the server; generous for a loaded 2-core machine, yet bounded.
const UI_TIMEOUT_MS = 30_000;
const VIEWPORT = { width: 1400, height: 1000 };

let server: DevServer | undefined;
let rig: LifecycleRig | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  // Its own server: the shared one of the test run is headless.
  server = await startDevServer({ ui: true, logFile: path.join(projectRoot, '.scratch', 'webui-dev-server.log') });
  rig = await startLifecycleRig([{ name: 'webui' }], { address: server.address });
});

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
  await server?.stop();
});

describe('the Temporal Web UI shows a lifecycle to an operator', () => {
  it('finds it by LatentWorkerName and shows its phase, server id and activity summaries', async () => {
    // Checked here rather than in beforeAll, so that a missing browser fails this test instead of skipping it.
    if (!existsSync(CHROMIUM)) {
      throw new Error(`the Web UI test needs Debian's Chromium at ${CHROMIUM}: install it with \`apt-get install chromium\` (.ci/run does)`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // Root needs --no-sandbox; the rest keeps Chromium off the network, which is closed here.
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const name = rig!.nameOf('webui');
    const spec = rig!.config.workers.get(name)!.specFor();
    const handle = await rig!.client.substantiate(spec);
    const status = await rig!.client.waitForPhase(name, 'waiting-for-attach', { intervalMs: 100 });
    expect(status.phase).toBe('waiting-for-attach');
    const serverId = status.serverId!;

    const page = await browser!.newPage({ viewport: VIEWPORT });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    const shots: { caption: string; png: Buffer }[] = [];
    const shoot = async (file: string, caption: string) => {
      const png = await page.screenshot({ path: path.join(SHOTS, file) });
      shots.push({ caption, png });
    };
    mkdirSync(SHOTS, { recursive: true });

    try {
      // The list, filtered the way an operator would: by the worker-name search attribute.
      const query = `LatentWorkerName="${name}"`;
      await page.goto(`${server!.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      const row = page.getByRole('link', { name: handle.workflowId, exact: true });
      await row.waitFor();
      await page.getByTestId('workflow-count').filter({ hasText: /^1$/ }).waitFor();
      await shoot('list.png', `Workflows, query ${query}`);

      await row.click();
      await page.waitForURL(/\/timeline/);
      // Timeline entries read "<activity type> • <summary>"; a local activity shows its type alone, so the
      // one that does the quick steps is named after each.
      for (const entry of [
        'checkInputAuthenticateResolveImage',
        'createServerPromptly',
        `wait for ${status.serverName} to be ACTIVE (boot_timeout ${spec.bootTimeoutSeconds} s)`,
        `wait for the CI worker to attach (missing_timeout ${spec.missingTimeoutSeconds} s)`,
      ]) {
        await page.getByText(entry, { exact: true }).waitFor();
      }
      await shoot('timeline.png', 'Timeline: activity and timer summaries');

      await page.getByTestId('user-metadata-tab').click();
      // Current details come from a query the running worker answers; the UI renders their Markdown in a frame.
      const details = page.frameLocator('#user-metadata-current-details');
      await details.getByText(`${name}: waiting-for-attach`, { exact: true }).waitFor();
      await details.getByText(serverId, { exact: true }).waitFor();
      await shoot('current-details.png', 'User Metadata: current details (phase, server)');

      await page.getByTestId('search-attributes-tab').click();
      // A read-only CodeMirror editor holding the search attributes as JSON.
      const attributes = page.getByRole('textbox', { name: 'Search Attributes' }).filter({ hasText: 'LatentWorkerServerId' });
      await attributes.waitFor();
      const text = await attributes.innerText();
      expect(text).toContain(`"LatentWorkerPhase": "waiting-for-attach"`);
      expect(text).toContain(`"LatentWorkerServerId": "${serverId}"`);
      expect(text).toContain(`"LatentWorkerName": "${name}"`);
      await shoot('search-attributes.png', 'Search Attributes');

      const lifecycle = path.join(SHOTS, 'lifecycle.png');
      await composite(page, shots, lifecycle);
      await page.close();
      console.log(`Web UI screenshot: ${lifecycle}`);
    } catch (error) {
      const failure = path.join(SHOTS, 'failure.png');
      await page.screenshot({ path: failure, fullPage: true });
      console.log(`Web UI screenshot at the failure: ${failure}`);
      throw error;
    }

    await rig!.client.release(name);
    expect((await handle.result()).outcome).toBe('released');
    expect(rig!.simulator.servers()).toEqual([]);
  });
});

/** One picture of every view the test checked, so a reader sees all of it at a glance. */
async function composite(page: Page, shots: { caption: string; png: Buffer }[], file: string): Promise<void> {
  const cells = shots
    .map(({ caption, png }) => `<figure><figcaption>${caption.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</figcaption><img src="data:image/png;base64,${png.toString('base64')}"></figure>`)
    .join('');
  // Two columns of the shots at their own size, so the text in them stays readable.
  await page.setViewportSize({ width: 2 * VIEWPORT.width + 24, height: VIEWPORT.height });
  await page.setContent(
    `<style>body{margin:0;display:grid;grid-template-columns:1fr 1fr;gap:8px;padding:8px;background:#ccc;font:16px sans-serif}` +
      `figure{margin:0;background:#fff}figcaption{padding:4px 8px;font-weight:bold}img{width:100%;display:block}</style>${cells}`,
  );
  writeFileSync(file, await page.screenshot({ fullPage: true }));
}
