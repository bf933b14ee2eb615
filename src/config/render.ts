import { ConfigError } from './credentials.js';

// Buildbot renders a latent worker's image, flavor, meta, nova_args and block_devices with each
// build's properties (`Interpolate('%(prop:branch)s')`). Definitions here use the same syntax in
// string values: `%(prop:NAME)s`, or `%(prop:NAME:-fallback)s` when the property may be absent.

const TEMPLATE = /%\(prop:([A-Za-z0-9_.-]+)(?::-([^)]*))?\)s/g;

export function hasTemplate(value: string): boolean {
  return value.includes('%(prop:');
}

/** Renders every string inside `value`; a property that is missing and has no fallback is an error. */
export function renderProperties<T>(value: T, properties: Record<string, string>, field: string): T {
  if (typeof value === 'string') {
    return value.replace(TEMPLATE, (_match, name: string, fallback: string | undefined) => {
      const found = properties[name] ?? fallback;
      if (found === undefined) {
        throw new ConfigError(`${field}: uses build property "${name}", which this substantiation did not give (pass --property ${name}=VALUE, or write %(prop:${name}:-fallback)s)`);
      }
      return found;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item, index) => renderProperties(item, properties, `${field}[${index}]`)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderProperties(item, properties, `${field}.${key}`)])) as T;
  }
  return value;
}
