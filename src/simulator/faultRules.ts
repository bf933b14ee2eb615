import { z } from 'zod';

// The fault rules a test, the CLI or a chaos run can inject. One schema serves the typed API and
// the HTTP control endpoint, so a rule written as JSON by another process means exactly what the
// same object means in-process.

/** A route name (`nova.servers.create`) or a glob over names (`nova.servers.*`, `*`). */
const routePattern = z.string().min(1).regex(/^[a-z0-9.*]+$/i, 'must be a route name such as nova.servers.create, or a glob such as nova.*');

/** A JavaScript regular expression over the server name. */
const namePattern = z.string().refine(
  (source) => {
    try {
      new RegExp(source);
      return true;
    } catch {
      return false;
    }
  },
  { error: 'must be a valid regular expression' },
);

// How often a rule fires: at most `count` times (unlimited when left out), each matching
// request with `probability` (1 when left out).
const trigger = {
  count: z.int().positive().optional(),
  probability: z.number().gt(0).max(1).optional(),
};

export const faultRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('error'),
    route: routePattern,
    status: z.int().min(400).max(599),
    /** The JSON body; default: the service's own error body for `status`. */
    body: z.unknown().optional(),
    /** The message inside the default body; default: the service's usual text for `status`. */
    message: z.string().optional(),
    /** Seconds, or an HTTP date: sent as `Retry-After` (Nova also puts it in 413/429 bodies). */
    retryAfter: z.union([z.int().nonnegative(), z.string().min(1)]).optional(),
    ...trigger,
  }),
  z.strictObject({ kind: z.literal('latency'), route: routePattern, ms: z.int().min(0).max(600_000), ...trigger }),
  /** No answer until the rule is removed (then the request proceeds) or the client goes away. */
  z.strictObject({ kind: z.literal('hang'), route: routePattern, ...trigger }),
  /** The route does its work (a server is created), then the connection closes unanswered. */
  z.strictObject({ kind: z.literal('responseLost'), route: routePattern.default('nova.servers.create'), ...trigger }),
  /** Servers created while it lasts go to ERROR with this fault instead of ACTIVE. */
  z.strictObject({
    kind: z.literal('bootError'),
    message: z.string().min(1),
    code: z.int().min(400).max(599).default(500),
    details: z.string().optional(),
    namePattern: namePattern.optional(),
    count: trigger.count,
  }),
  /** Servers created while it lasts stay in BUILD until deleted. */
  z.strictObject({ kind: z.literal('bootStuck'), namePattern: namePattern.optional(), count: trigger.count }),
  /** Each matching server's first `times` deletes answer 500; `count` bounds how many servers. */
  z.strictObject({
    kind: z.literal('deleteFailures'),
    times: z.int().positive(),
    namePattern: namePattern.optional(),
    count: trigger.count,
  }),
]);

/** What callers write (defaults may be left out). */
export type FaultRule = z.input<typeof faultRuleSchema>;
/** A rule with its defaults filled in. */
export type ParsedFaultRule = z.output<typeof faultRuleSchema>;
export type RouteFaultRule = Extract<ParsedFaultRule, { route: string }>;

/** A rule as it is held and listed: its id, and how often it has fired so far. */
export type InjectedFault = ParsedFaultRule & { id: string; fired: number };

export const quotaLimitsSchema = z.strictObject({
  instances: z.int().min(-1).optional(),
  cores: z.int().min(-1).optional(),
  ram: z.int().min(-1).optional(),
});

export const tokenTtlSchema = z.strictObject({ seconds: z.int().positive() });

/** One line per problem, naming the field: what the control endpoint answers with a 400. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(rule)'}: ${issue.message}`).join('; ');
}

/** Throws a RangeError that names each bad field of `what`. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RangeError(`invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export const parseFaultRule = (rule: unknown): ParsedFaultRule => parseOrThrow(faultRuleSchema, rule, 'fault rule');

/** `*` matches any run of characters, dots included. */
export function routeMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.]/g, '\\.')).join('.*')}$`);
  return (name) => re.test(name);
}
