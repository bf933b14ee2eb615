import {
  parseFaultRule,
  routeMatcher,
  type FaultRule,
  type InjectedFault,
  type ParsedFaultRule,
  type RouteFaultRule,
} from './faultRules.js';

// The rules in force and their bookkeeping: which fire for a request, which decide how a new
// server boots, which make a delete fail. Firing consumes a rule's count; a spent rule stays
// listed (with `fired`) until removed, so a test can check that its fault was hit.

interface Held {
  readonly id: string;
  readonly rule: ParsedFaultRule;
  fired: number;
  /** Aborted when the rule is removed: releases requests that a `hang` holds. */
  readonly removed: AbortController;
  /** deleteFailures: failures served so far, per server id. */
  readonly perServer: Map<string, number>;
  readonly matchesRoute: (name: string) => boolean;
}

export type BootPlan = { kind: 'error'; code: number; message: string; details: string | undefined } | { kind: 'stuck' };

export interface FiringRouteFault {
  readonly rule: RouteFaultRule;
  /** Aborted when the rule is removed. */
  readonly removed: AbortSignal;
}

export class FaultPlan {
  private readonly held: Held[] = [];
  private nextId = 1;

  constructor(
    /** Every route name the simulator serves: rules naming none of them are refused. */
    private readonly routeNames: () => readonly string[],
    private readonly random: () => number = Math.random,
  ) {}

  /** Throws a RangeError for an invalid rule or a route pattern that matches no route. */
  add(rule: FaultRule): InjectedFault {
    const parsed = parseFaultRule(rule);
    const matchesRoute = 'route' in parsed ? routeMatcher(parsed.route) : () => false;
    const names = this.routeNames();
    if ('route' in parsed && !names.some(matchesRoute)) {
      throw new RangeError(`invalid fault rule: route: '${parsed.route}' matches no route; routes are ${names.join(', ')}`);
    }
    const held: Held = {
      id: `fault-${this.nextId++}`,
      rule: parsed,
      fired: 0,
      removed: new AbortController(),
      perServer: new Map(),
      matchesRoute,
    };
    this.held.push(held);
    return view(held);
  }

  list(): InjectedFault[] {
    return this.held.map(view);
  }

  remove(id: string): boolean {
    const index = this.held.findIndex((h) => h.id === id);
    if (index < 0) return false;
    const [gone] = this.held.splice(index, 1);
    gone?.removed.abort();
    return true;
  }

  clear(): void {
    for (const held of this.held.splice(0)) held.removed.abort();
  }

  /** The route rules that fire for one request, in the order they were added. */
  firingFor(routeName: string): FiringRouteFault[] {
    const firing: FiringRouteFault[] = [];
    for (const held of this.held) {
      const { rule } = held;
      if (!('route' in rule) || !held.matchesRoute(routeName) || !this.fires(held, rule.probability)) continue;
      firing.push({ rule, removed: held.removed.signal });
    }
    return firing;
  }

  /** How a server of this name boots; undefined: normally. Called once per created server. */
  bootPlan(serverName: string): BootPlan | undefined {
    for (const held of this.held) {
      const { rule } = held;
      if (rule.kind !== 'bootError' && rule.kind !== 'bootStuck') continue;
      if (!nameMatches(rule.namePattern, serverName) || !this.fires(held)) continue;
      return rule.kind === 'bootStuck' ? { kind: 'stuck' } : { kind: 'error', code: rule.code, message: rule.message, details: rule.details };
    }
    return undefined;
  }

  /** True when this delete of this server must fail. */
  deleteFails(serverId: string, serverName: string): boolean {
    for (const held of this.held) {
      const { rule } = held;
      if (rule.kind !== 'deleteFailures' || !nameMatches(rule.namePattern, serverName)) continue;
      const failed = held.perServer.get(serverId);
      if (failed === undefined) {
        // A new server takes one of the rule's `count` servers.
        if (rule.count !== undefined && held.perServer.size >= rule.count) continue;
        held.perServer.set(serverId, 1);
        held.fired += 1;
        return true;
      }
      if (failed < rule.times) {
        held.perServer.set(serverId, failed + 1);
        held.fired += 1;
        return true;
      }
    }
    return false;
  }

  private fires(held: Held, probability = 1): boolean {
    const { count } = held.rule;
    if (count !== undefined && held.fired >= count) return false;
    if (probability < 1 && this.random() >= probability) return false;
    held.fired += 1;
    return true;
  }
}

function nameMatches(pattern: string | undefined, name: string): boolean {
  return pattern === undefined || new RegExp(pattern).test(name);
}

const view = (held: Held): InjectedFault => ({ ...structuredClone(held.rule), id: held.id, fired: held.fired });
