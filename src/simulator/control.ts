import type { z } from 'zod';
import type { FaultPlan } from './faultPlan.js';
import { novaCongestionSchema } from './congestion.js';
import { parseOrThrow, quotaLimitsSchema, tokenTtlSchema } from './faultRules.js';
import { HttpError, route, type Service, type SimRequest, type SimResponse } from './server.js';
import type { SimState } from './state.js';

// The simulator's own HTTP control endpoint, outside every OpenStack path, so that another
// process (a chaos test, the benchmark, an operator with curl) can inject faults, set quotas and
// revoke tokens. Not an OpenStack API: it needs no token, and its own errors are plain JSON.
//
//   GET    /_sim/routes                 route names that fault rules may name
//   GET    /_sim/faults                 rules in force, with how often each fired
//   POST   /_sim/faults                 one rule, or {"faults": [rules]}  -> 201 {"faults": [...]}
//   DELETE /_sim/faults                 remove every rule (hung requests go on)
//   DELETE /_sim/faults/{id}            remove one rule
//   GET    /_sim/quotas/{project}       limits and usage of a project (id or name)
//   PUT    /_sim/quotas/{project}       {"instances"?, "cores"?, "ram"?}, -1 = unlimited
//   DELETE /_sim/quotas/{project}       back to the simulator's default quota
//   POST   /_sim/tokens/revoke          every token issued so far stops working
//   PUT    /_sim/tokens/ttl             {"seconds": N} for tokens issued from now on
//   GET    /_sim/nova/congestion        the build-slot model in force, and builds waiting for a slot
//   PUT    /_sim/nova/congestion        {"workers": K, "buildMs": MS} (congestion.ts)
//   DELETE /_sim/nova/congestion        every build starts at once again

export const controlPrefix = '/_sim';

const controlError = (status: number, message: string): HttpError => new HttpError({ status, json: { error: { code: status, message } } });

function jsonBody(req: SimRequest): unknown {
  if (req.body.kind === 'malformed') throw controlError(400, 'the request body is not JSON');
  return req.body.kind === 'json' ? req.body.value : undefined;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  try {
    return parseOrThrow(schema, value, what);
  } catch (error) {
    if (error instanceof RangeError) throw controlError(400, error.message);
    throw error;
  }
}

export interface ControlDeps {
  state: SimState;
  faults: FaultPlan;
  routeNames: () => readonly string[];
  /** Resolves a project id or name; undefined when there is none. */
  projectId: (idOrName: string) => string | undefined;
  usage: (projectId: string) => { instances: number; cores: number; ram: number };
}

export function controlService({ state, faults, routeNames, projectId, usage }: ControlDeps): Service {
  const project = (req: SimRequest): string => {
    const name = req.params.project ?? '';
    const id = projectId(name);
    if (id === undefined) throw controlError(404, `no project has the id or name '${name}'`);
    return id;
  };
  const quotaView = (id: string): SimResponse => ({
    status: 200,
    json: { project_id: id, quota: state.quotas.limits(id), usage: usage(id) },
  });

  const congestionView = (): SimResponse => ({
    status: 200,
    json: { congestion: state.novaCongestion, queued_builds: state.queuedBuilds },
  });

  const routes = [
    route('sim.routes', 'GET', `${controlPrefix}/routes`, () => ({ status: 200, json: { routes: routeNames() } })),
    route('sim.faults.list', 'GET', `${controlPrefix}/faults`, () => ({ status: 200, json: { faults: faults.list() } })),
    route('sim.faults.add', 'POST', `${controlPrefix}/faults`, (req) => {
      const body = jsonBody(req);
      const rules: unknown[] =
        typeof body === 'object' && body !== null && 'faults' in body && Array.isArray(body.faults) ? body.faults : [body];
      const added = [];
      try {
        // All or nothing: a batch with one bad rule adds none.
        for (const rule of rules) added.push(faults.add(rule as Parameters<FaultPlan['add']>[0]));
      } catch (error) {
        for (const fault of added) faults.remove(fault.id);
        if (error instanceof RangeError) throw controlError(400, error.message);
        throw error;
      }
      return { status: 201, json: { faults: added } };
    }),
    route('sim.faults.clear', 'DELETE', `${controlPrefix}/faults`, () => {
      faults.clear();
      return { status: 204 };
    }),
    route('sim.faults.remove', 'DELETE', `${controlPrefix}/faults/{id}`, (req) => {
      if (!faults.remove(req.params.id ?? '')) throw controlError(404, `no fault has the id '${req.params.id}'`);
      return { status: 204 };
    }),
    route('sim.quotas.show', 'GET', `${controlPrefix}/quotas/{project}`, (req) => quotaView(project(req))),
    route('sim.quotas.set', 'PUT', `${controlPrefix}/quotas/{project}`, (req) => {
      const id = project(req);
      state.quotas.set(id, parse(quotaLimitsSchema, jsonBody(req), 'quota'));
      return quotaView(id);
    }),
    route('sim.quotas.reset', 'DELETE', `${controlPrefix}/quotas/{project}`, (req) => {
      state.quotas.reset(project(req));
      return { status: 204 };
    }),
    route('sim.tokens.revoke', 'POST', `${controlPrefix}/tokens/revoke`, () => ({
      status: 200,
      json: { revoked: state.revokeAllTokens() },
    })),
    route('sim.tokens.ttl', 'PUT', `${controlPrefix}/tokens/ttl`, (req) => {
      const { seconds } = parse(tokenTtlSchema, jsonBody(req), 'token TTL');
      state.setTokenTtl(seconds);
      return { status: 200, json: { seconds } };
    }),
    route('sim.congestion.show', 'GET', `${controlPrefix}/nova/congestion`, () => congestionView()),
    route('sim.congestion.set', 'PUT', `${controlPrefix}/nova/congestion`, (req) => {
      const congestion = parse(novaCongestionSchema, jsonBody(req), 'Nova congestion');
      try {
        state.novaCongestion = congestion;
      } catch (error) {
        if (error instanceof RangeError) throw controlError(400, error.message);
        throw error;
      }
      return congestionView();
    }),
    route('sim.congestion.clear', 'DELETE', `${controlPrefix}/nova/congestion`, () => {
      state.novaCongestion = null;
      return { status: 204 };
    }),
  ];

  return {
    prefix: controlPrefix,
    routes,
    unmatched: (req, allowed) =>
      allowed.length > 0
        ? { status: 405, headers: { allow: allowed.join(', ') }, json: { error: { code: 405, message: `${req.method} is not allowed here` } } }
        : { status: 404, json: { error: { code: 404, message: `no control route ${req.method} ${req.path}` } } },
    failed: (_req, error) => ({
      status: 500,
      json: { error: { code: 500, message: error instanceof Error ? error.message : String(error) } },
    }),
  };
}
