import { request } from 'undici';
import type { NovaCongestion } from './congestion.js';
import type { FaultRule, InjectedFault } from './faultRules.js';
import type { QuotaLimits } from './quota.js';

// The control endpoint from another process: a chaos test or the benchmark points this at a
// simulator it did not start (`new SimulatorControl('http://127.0.0.1:8080')`).

export class SimulatorControl {
  private readonly base: string;

  constructor(
    simulatorUrl: string,
    private readonly timeoutMs = 5_000,
  ) {
    this.base = `${simulatorUrl.replace(/\/+$/, '')}/_sim`;
  }

  async inject(...rules: FaultRule[]): Promise<InjectedFault[]> {
    return ((await this.call('POST', '/faults', { faults: rules })) as { faults: InjectedFault[] }).faults;
  }

  async faults(): Promise<InjectedFault[]> {
    return ((await this.call('GET', '/faults')) as { faults: InjectedFault[] }).faults;
  }

  async remove(id: string): Promise<void> {
    await this.call('DELETE', `/faults/${encodeURIComponent(id)}`);
  }

  async clear(): Promise<void> {
    await this.call('DELETE', '/faults');
  }

  async setQuota(project: string, limits: Partial<QuotaLimits>): Promise<{ quota: QuotaLimits; usage: QuotaLimits }> {
    return (await this.call('PUT', `/quotas/${encodeURIComponent(project)}`, limits)) as { quota: QuotaLimits; usage: QuotaLimits };
  }

  async resetQuota(project: string): Promise<void> {
    await this.call('DELETE', `/quotas/${encodeURIComponent(project)}`);
  }

  async revokeTokens(): Promise<number> {
    return ((await this.call('POST', '/tokens/revoke')) as { revoked: number }).revoked;
  }

  async setTokenTtl(seconds: number): Promise<void> {
    await this.call('PUT', '/tokens/ttl', { seconds });
  }

  /** Null clears the model: every build starts at once again. */
  async setNovaCongestion(congestion: NovaCongestion | null): Promise<void> {
    if (congestion === null) await this.call('DELETE', '/nova/congestion');
    else await this.call('PUT', '/nova/congestion', congestion);
  }

  async novaCongestion(): Promise<{ congestion: NovaCongestion | null; queuedBuilds: number }> {
    const body = (await this.call('GET', '/nova/congestion')) as { congestion: NovaCongestion | null; queued_builds: number };
    return { congestion: body.congestion, queuedBuilds: body.queued_builds };
  }

  private async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, json?: unknown): Promise<unknown> {
    const res = await request(`${this.base}${path}`, {
      method,
      headers: json === undefined ? {} : { 'content-type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.body.text();
    const body: unknown = text ? JSON.parse(text) : undefined;
    if (res.statusCode >= 400) {
      const message = (body as { error?: { message?: string } } | undefined)?.error?.message ?? text;
      throw new Error(`simulator control ${method} ${path}: ${res.statusCode} ${message}`);
    }
    return body;
  }
}
