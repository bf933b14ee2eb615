import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Env } from './clouds.js';
import { parseBoolean } from './credentialSources.js';
import { ConfigError } from './errors.js';

// The `notify:` section of the config file: where missing-worker reports go besides the log.
// Environment variables fill in or override it, so a password need not sit in the file.

const STARTTLS = ['required', 'optional', 'off'] as const;

const text = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `required: ${what}` : `must be a string: ${what}`) }).min(1, `must not be empty: ${what}`);

const timeoutSeconds = (fallback: number) =>
  z.number({ error: 'must be a number of seconds' }).positive('must be a positive number of seconds').default(fallback);

// "ci@example.org" or "CI bot <ci@example.org>", the two forms a From header takes.
const sender = text('the sender address, e.g. "CI <ci@example.org>"').refine((value) => {
  const address = /^[^<>]*<([^<>]+)>$/.exec(value)?.[1] ?? value;
  return z.email().safeParse(address.trim()).success;
}, 'must be an address such as ci@example.org or "CI <ci@example.org>"');

const smtpSchema = z
  .strictObject({
    host: text('the SMTP server name or address'),
    port: z.number({ error: 'must be a port number' }).int().min(1).max(65535, 'must be a port number (1-65535)').optional(),
    secure: z.boolean({ error: 'must be true (TLS from the first byte, usually port 465) or false' }).default(false),
    starttls: z.enum(STARTTLS, { error: `must be one of ${STARTTLS.join(', ')}` }).default('optional'),
    user: text('the SMTP login').optional(),
    password: text('the SMTP password').optional(),
    from: sender,
    timeoutSeconds: timeoutSeconds(30),
    tls: z
      .strictObject({
        ca: text('a PEM file of certificates to trust').optional(),
        rejectUnauthorized: z.boolean({ error: 'must be true or false' }).optional(),
      }, { error: 'must be a mapping with ca and/or rejectUnauthorized' })
      .optional(),
  }, { error: 'must be a mapping (host, port, from, ...)' })
  .superRefine((smtp, context) => {
    if (smtp.user !== undefined && smtp.password === undefined) {
      context.addIssue({ code: 'custom', path: ['password'], message: 'required when user is set' });
    }
    if (smtp.password !== undefined && smtp.user === undefined) {
      context.addIssue({ code: 'custom', path: ['user'], message: 'required when password is set' });
    }
  });

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name');
// Values are never echoed in messages: an Authorization header is a secret.
const headerValue = z.string({ error: 'must be a string' }).regex(/^[^\r\n\0]*$/, 'must be a single line');

const webhookSchema = z.strictObject({
  url: z.url({
    protocol: /^https?$/,
    // The URL itself is not echoed: Slack-style webhook URLs carry their token in the path.
    error: (issue) => (issue.input === undefined ? 'required: where to POST reports' : 'must be an http(s) URL'),
  }),
  headers: z.record(headerName, headerValue).optional(),
  timeoutSeconds: timeoutSeconds(10),
}, { error: 'must be a mapping (url, headers, timeoutSeconds)' });

export const notifySettingsSchema = z.strictObject(
  { smtp: smtpSchema.optional(), webhook: webhookSchema.optional() },
  { error: 'must be a mapping with smtp and/or webhook' },
);

export type NotifySettingsInput = z.input<typeof notifySettingsSchema>;

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (SMTPS, port 465); otherwise `starttls` decides. */
  secure: boolean;
  starttls: (typeof STARTTLS)[number];
  user?: string;
  password?: string;
  from: string;
  /** Bounds connecting, the greeting, and each wait on the socket. */
  timeoutSeconds: number;
  /** PEM certificates to trust instead of Node's bundled CAs, read from `tls.ca`. */
  ca?: string;
  rejectUnauthorized: boolean;
}

export interface WebhookSettings {
  url: string;
  headers: Record<string, string>;
  timeoutSeconds: number;
}

export interface NotifySettings {
  smtp?: SmtpSettings;
  webhook?: WebhookSettings;
}

export interface NotifySources {
  /** For a relative `smtp.tls.ca`; default process.cwd(). */
  baseDir?: string;
}

const ENV = {
  host: 'LATENT_WORKER_SMTP_HOST',
  port: 'LATENT_WORKER_SMTP_PORT',
  secure: 'LATENT_WORKER_SMTP_SECURE',
  starttls: 'LATENT_WORKER_SMTP_STARTTLS',
  user: 'LATENT_WORKER_SMTP_USER',
  password: 'LATENT_WORKER_SMTP_PASSWORD',
  from: 'LATENT_WORKER_SMTP_FROM',
  url: 'LATENT_WORKER_WEBHOOK_URL',
} as const;

/**
 * The config file's `notify:` section (undefined when absent) with the LATENT_WORKER_SMTP_* and
 * LATENT_WORKER_WEBHOOK_URL variables layered over it. Throws a ConfigError naming each bad field.
 */
export function resolveNotifySettings(raw: unknown, env: Env, sources: NotifySources = {}): NotifySettings {
  const merged = withEnv(raw ?? {}, env);
  const parsed = notifySettingsSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`invalid notify settings:\n${describeIssues(parsed.error)}`);
  const { smtp, webhook } = parsed.data;
  return {
    ...(smtp && { smtp: resolveSmtp(smtp, sources.baseDir ?? process.cwd()) }),
    ...(webhook && { webhook: { url: webhook.url, headers: webhook.headers ?? {}, timeoutSeconds: webhook.timeoutSeconds } }),
  };
}

function resolveSmtp(smtp: z.output<typeof smtpSchema>, baseDir: string): SmtpSettings {
  const { tls, port, ...rest } = smtp;
  return {
    ...rest,
    port: port ?? (smtp.secure ? 465 : 587),
    ...(tls?.ca !== undefined && { ca: readCa(resolve(baseDir, tls.ca)) }),
    rejectUnauthorized: tls?.rejectUnauthorized ?? true,
  };
}

function readCa(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`invalid notify settings:\n  - notify.smtp.tls.ca: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`invalid notify settings:\n  - notify.smtp.tls.ca: ${path} holds no PEM certificate`);
  }
  return pem;
}

/** Layers the environment over the file; a section appears when only the environment names it. */
function withEnv(raw: unknown, env: Env): unknown {
  if (!isRecord(raw)) return raw;
  const value = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const smtpEnv = defined({
    host: value(ENV.host),
    port: envPort(value(ENV.port)),
    secure: envBoolean(ENV.secure, value(ENV.secure)),
    starttls: envStarttls(value(ENV.starttls)),
    user: value(ENV.user),
    password: value(ENV.password),
    from: value(ENV.from),
  });
  const webhookEnv = defined({ url: value(ENV.url) });
  return { ...raw, ...section(raw.smtp, smtpEnv, 'smtp'), ...section(raw.webhook, webhookEnv, 'webhook') };
}

function section(fromFile: unknown, fromEnv: Record<string, unknown>, key: string): Record<string, unknown> {
  if (Object.keys(fromEnv).length === 0) return {};
  // A malformed section stays as written, for the schema to refuse with its own message.
  if (fromFile !== undefined && !isRecord(fromFile)) return {};
  return { [key]: { ...fromFile, ...fromEnv } };
}

function envPort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new ConfigError(`${ENV.port}: must be a port number (1-65535), got "${value}"`);
  return port;
}

function envBoolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const parsed = parseBoolean(value);
  if (parsed === undefined) throw new ConfigError(`${name}: must be true or false, got "${value}"`);
  return parsed;
}

function envStarttls(value: string | undefined): string | undefined {
  if (value === undefined || (STARTTLS as readonly string[]).includes(value)) return value;
  throw new ConfigError(`${ENV.starttls}: must be one of ${STARTTLS.join(', ')}, got "${value}"`);
}

/** One line per problem, naming the field and, where one exists, the variable that could set it. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .flatMap((issue) => {
      const fields = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
      return fields.map((path) => {
        const message = issue.code === 'unrecognized_keys' ? 'unknown key (check the spelling against the README)' : issue.message;
        const variable = ENV[path.at(-1) as keyof typeof ENV];
        const hint = variable && /^required/.test(message) ? ` (or set ${variable})` : '';
        return `  - ${['notify', ...path].join('.')}: ${message}${hint}`;
      });
    })
    .join('\n');
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
