import { isIPv4, isIPv6 } from 'node:net';

// The subset of JSON Schema (draft 4, Python jsonschema's messages) that Nova's request schemas
// use. Nova reports the *first* error jsonschema yields, which follows the schema's keyword and
// property order, so schemas here are written in Nova's order and evaluated in insertion order.

type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';
type Format = 'uuid' | 'ipv4' | 'ipv6' | 'base64' | 'name' | 'date-time';

export interface Schema {
  type?: JsonType | readonly JsonType[];
  enum?: readonly unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: Format;
  minimum?: number;
  maximum?: number;
  properties?: Readonly<Record<string, Schema>>;
  patternProperties?: Readonly<Record<string, Schema>>;
  required?: readonly string[];
  additionalProperties?: boolean;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  oneOf?: readonly Schema[];
}

export type Path = readonly (string | number)[];

export class SchemaError extends Error {
  constructor(
    readonly path: Path,
    readonly instance: unknown,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Nova's InvalidName: reported as-is instead of in the "Invalid input for field" frame. */
const invalidNameMessage =
  "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.";

class InvalidNameError extends SchemaError {}

/** Python's repr(), for values parsed from JSON. */
function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = '';
    for (const ch of value) {
      const code = ch.codePointAt(0) ?? 0;
      if (ch === '\\' || ch === quote) out += `\\${ch}`;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
    return `${quote}${out}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
  }
  return String(value);
}

/** Python's str(): strings bare, everything else as repr. */
const pyStr = (value: unknown): string => (typeof value === 'string' ? value : pyRepr(value));

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return isObject(value);
    case 'array':
      return Array.isArray(value);
    case 'null':
      return value === null;
  }
}

const uuidLike = /^(urn:uuid:)?\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;

/** oslo's is_uuid_like: dashes optional, so 32 hex digits pass too. */
export const isUuidLike = (s: string): boolean => uuidLike.test(s) && s.replace(/[^0-9a-f]/gi, '').length === 32;

// Python's base64.decodebytes ignores characters outside the alphabet and fails on bad padding.
function isBase64(s: string): boolean {
  const data = s.replace(/[^A-Za-z0-9+/=]/g, '');
  return /^[A-Za-z0-9+/]*={0,2}$/.test(data) && data.length % 4 === 0;
}

const printableName = (s: string): boolean =>
  !/^\p{Zs}|\p{Zs}$/u.test(s) && !/[\p{C}\p{Zl}\p{Zp}]/u.test(s);

function checkFormat(format: Format, value: string): boolean {
  switch (format) {
    case 'uuid':
      return isUuidLike(value);
    case 'ipv4':
      return isIPv4(value);
    case 'ipv6':
      return isIPv6(value);
    case 'base64':
      return isBase64(value);
    case 'name':
      return printableName(value);
    case 'date-time':
      return parseIsoTime(value) !== undefined;
  }
}

/** oslo timeutils.parse_isotime: ISO 8601 with optional fraction and zone (UTC when absent). */
export function parseIsoTime(value: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value);
  if (!m) return undefined;
  const zone = m[8] === undefined || m[8].toUpperCase() === 'Z' ? 'Z' : m[8].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}${(m[7] ?? '').slice(0, 4)}${zone}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const numberFromString = (v: unknown): number | undefined => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
};

const length = (s: string): number => [...s].length;

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function validate(schema: Schema, instance: unknown, path: Path = []): void {
  const fail = (detail: string): never => {
    throw new SchemaError(path, instance, detail);
  };
  for (const keyword of Object.keys(schema) as (keyof Schema)[]) {
    switch (keyword) {
      case 'type': {
        const types = typeof schema.type === 'string' ? [schema.type] : (schema.type ?? []);
        if (!types.some((t) => hasType(instance, t))) {
          fail(`${pyRepr(instance)} is not of type ${types.map((t) => `'${t}'`).join(', ')}`);
        }
        break;
      }
      case 'enum':
        if (!schema.enum?.some((option) => option === instance)) {
          fail(`${pyRepr(instance)} is not one of ${pyRepr(schema.enum)}`);
        }
        break;
      case 'minLength':
        if (typeof instance === 'string' && length(instance) < (schema.minLength ?? 0)) fail(`${pyRepr(instance)} is too short`);
        break;
      case 'maxLength':
        if (typeof instance === 'string' && length(instance) > (schema.maxLength ?? Infinity)) fail(`${pyRepr(instance)} is too long`);
        break;
      case 'pattern':
        if (typeof instance === 'string' && !new RegExp(schema.pattern ?? '').test(instance)) {
          fail(`${pyRepr(instance)} does not match ${pyRepr(schema.pattern)}`);
        }
        break;
      case 'format':
        if (typeof instance === 'string' && schema.format && !checkFormat(schema.format, instance)) {
          if (schema.format === 'name') throw new InvalidNameError(path, instance, invalidNameMessage);
          fail(`${pyRepr(instance)} is not a '${schema.format}'`);
        }
        break;
      // Nova's validator also compares numeric strings ("10") against minimum/maximum.
      case 'minimum': {
        const n = numberFromString(instance);
        if (n !== undefined && n < (schema.minimum ?? -Infinity)) fail(`${pyRepr(instance)} is less than the minimum of ${schema.minimum}`);
        break;
      }
      case 'maximum': {
        const n = numberFromString(instance);
        if (n !== undefined && n > (schema.maximum ?? Infinity)) fail(`${pyRepr(instance)} is greater than the maximum of ${schema.maximum}`);
        break;
      }
      case 'properties':
        if (isObject(instance)) {
          for (const [name, sub] of Object.entries(schema.properties ?? {})) {
            if (name in instance) validate(sub, instance[name], [...path, name]);
          }
        }
        break;
      case 'patternProperties':
        if (isObject(instance)) {
          for (const [pattern, sub] of Object.entries(schema.patternProperties ?? {})) {
            for (const [name, value] of Object.entries(instance)) {
              if (new RegExp(pattern).test(name)) validate(sub, value, [...path, name]);
            }
          }
        }
        break;
      case 'required':
        if (isObject(instance)) {
          const missing = schema.required?.find((name) => !(name in instance));
          if (missing !== undefined) fail(`${pyRepr(missing)} is a required property`);
        }
        break;
      case 'additionalProperties':
        if (isObject(instance) && schema.additionalProperties === false) {
          const patterns = Object.keys(schema.patternProperties ?? {});
          const extras = Object.keys(instance).filter(
            (name) => !(name in (schema.properties ?? {})) && !patterns.some((p) => new RegExp(p).test(name)),
          );
          if (extras.length > 0) {
            if (patterns.length > 0) {
              const sorted = [...extras].sort();
              fail(
                `${sorted.map(pyRepr).join(', ')} ${sorted.length === 1 ? 'does' : 'do'} not match any of the regexes: ${patterns.map(pyRepr).join(', ')}`,
              );
            }
            fail(additionalPropertiesMessage(extras));
          }
        }
        break;
      case 'items':
        if (Array.isArray(instance) && schema.items) {
          const items = schema.items;
          instance.forEach((item, i) => validate(items, item, [...path, i]));
        }
        break;
      case 'minItems':
        if (Array.isArray(instance) && instance.length < (schema.minItems ?? 0)) fail(`${pyRepr(instance)} is too short`);
        break;
      case 'maxItems':
        if (Array.isArray(instance) && instance.length > (schema.maxItems ?? Infinity)) fail(`${pyRepr(instance)} is too long`);
        break;
      case 'uniqueItems':
        if (Array.isArray(instance) && schema.uniqueItems && instance.some((a, i) => instance.slice(i + 1).some((b) => deepEqual(a, b)))) {
          fail(`${pyRepr(instance)} has non-unique elements`);
        }
        break;
      case 'oneOf': {
        const valid = (schema.oneOf ?? []).filter((sub) => {
          try {
            validate(sub, instance, path);
            return true;
          } catch (error) {
            if (error instanceof SchemaError) return false;
            throw error;
          }
        }).length;
        if (valid === 0) fail(`${pyRepr(instance)} is not valid under any of the given schemas`);
        if (valid > 1) fail(`${pyRepr(instance)} is valid under each of the given schemas`);
        break;
      }
    }
  }
}

export function additionalPropertiesMessage(extras: readonly string[]): string {
  return `Additional properties are not allowed (${extras.map(pyRepr).join(', ')} ${extras.length === 1 ? 'was' : 'were'} unexpected)`;
}

/** The text Nova puts in a 400 for a schema error (nova/api/validation/validators.py). */
export function novaValidationDetail(error: SchemaError, where: 'body' | 'query'): string {
  if (error instanceof InvalidNameError) return error.detail;
  const last = error.path.at(where === 'body' ? -1 : 0);
  if (last === undefined) return error.detail;
  const frame = where === 'body' ? 'field/attribute' : 'query parameters';
  return `Invalid input for ${frame} ${last}. Value: ${pyStr(error.instance)}. ${error.detail}`;
}
