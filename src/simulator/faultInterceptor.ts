import { setTimeout as sleep } from 'node:timers/promises';
import { novaFault, novaUnexpected } from './novaFaults.js';
import type { FaultPlan } from './faultPlan.js';
import type { RouteFaultRule } from './faultRules.js';
import { keystoneError } from './keystoneErrors.js';
import type { Route, RouteInterceptor, SimRequest, SimResponse } from './server.js';
import { statusExplanation, statusTitle, webobError } from './webob.js';

// Applies the firing route rules to one request, in the order they were added: latency and hang
// delay it and let the next rule (or the handler) go on (after a latency, even when the client has
// gone meanwhile, as nova-api does); error answers in place of the handler;
// responseLost lets the handler work and then drops the answer.

const keystoneUnexpected = 'An unexpected error prevented the server from fulfilling your request.';

/** What the route's own service would answer with this status. */
export function serviceError(route: Route, req: SimRequest, status: number, message?: string, retryAfter?: string): SimResponse {
  const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': retryAfter };
  switch (route.name.split('.')[0]) {
    case 'nova': {
      // nova/api/openstack/wsgi.py Fault copies Retry-After into 413 and 429 bodies.
      const extra = retryAfter !== undefined && (status === 413 || status === 429) ? { retryAfter } : {};
      return { ...novaFault(status, message ?? (status === 500 ? novaUnexpected : statusExplanation(status)), extra), headers };
    }
    case 'keystone':
      return { ...keystoneError(status, statusTitle(status), message ?? (status === 500 ? keystoneUnexpected : statusExplanation(status))), headers };
    default:
      return webobError(status, req.headers.accept, message, headers);
  }
}

function injectedError(rule: Extract<RouteFaultRule, { kind: 'error' }>, route: Route, req: SimRequest): SimResponse {
  const retryAfter = rule.retryAfter === undefined ? undefined : String(rule.retryAfter);
  if (rule.body === undefined) return serviceError(route, req, rule.status, rule.message, retryAfter);
  return { status: rule.status, headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter }, json: rule.body };
}

const dropped: SimResponse = { status: 0, dropConnection: true };

/** Resolves true once `released` aborts, false if the client went away first. */
async function waitFor(released: AbortSignal, gone: AbortSignal): Promise<boolean> {
  if (gone.aborted) return false;
  if (released.aborted) return true;
  return new Promise((resolve) => {
    const done = (value: boolean) => () => {
      released.removeEventListener('abort', onRelease);
      gone.removeEventListener('abort', onGone);
      resolve(value);
    };
    const onRelease = done(true);
    const onGone = done(false);
    released.addEventListener('abort', onRelease, { once: true });
    gone.addEventListener('abort', onGone, { once: true });
  });
}

export function faultInterceptor(plan: FaultPlan): RouteInterceptor {
  return async (route, req, next) => {
    // The control endpoint itself never fails: it is how faults get cleared.
    if (route.name.startsWith('sim.')) return next();
    for (const { rule, removed } of plan.firingFor(route.name)) {
      switch (rule.kind) {
        case 'latency':
          // nova-api (eventlet WSGI) learns that its client left only when it writes the answer:
          // a slow request is finished all the same (a server is created), and the answer dropped.
          await sleep(rule.ms, undefined, { ref: false });
          if (req.signal.aborted) {
            await next().catch(() => undefined);
            return dropped;
          }
          break;
        case 'hang':
          if (!(await waitFor(removed, req.signal))) return dropped;
          break;
        case 'error':
          return injectedError(rule, route, req);
        case 'responseLost':
          try {
            await next();
          } catch {
            // Whatever the handler answered, nobody hears it.
          }
          return dropped;
      }
    }
    return next();
  };
}
