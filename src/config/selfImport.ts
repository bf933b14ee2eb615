import Module, { register } from 'node:module';

// A config written as code imports this package (`import { defineConfig } from
// 'openstack-latent-worker'`). Left to itself, that import loads a second copy of the package
// beside the one running: tsx compiles a `.ts` file of a CommonJS project to CommonJS, and its
// require hook then compiles our ES modules and their dependencies again, in a module cache of
// its own. undici does not survive being loaded twice ("TypeError: Illegal constructor"), and a
// second copy would not share classes (ConfigError) with the first anyway. So while config code
// runs, the package's name means the copy that is running, for `import` and `require` alike.

const PACKAGE_NAME = 'openstack-latent-worker';

const resolveHook = `
export async function resolve(specifier, context, next) {
  if (specifier === ${JSON.stringify(PACKAGE_NAME)}) return { url: ${JSON.stringify(new URL('../index.js', import.meta.url).href)}, shortCircuit: true };
  return next(specifier, context);
}`;

let installed = false;

/**
 * Makes `openstack-latent-worker` resolve to this running copy from here on. A no-op when this
 * copy runs from its TypeScript sources (development): a config then imports the sources by
 * path, as examples/ does.
 */
export async function shareThisPackageWithConfigCode(): Promise<void> {
  if (installed || import.meta.url.endsWith('.ts')) return;
  installed = true;
  const self = await import('../index.js');
  register(`data:text/javascript,${encodeURIComponent(resolveHook)}`);
  const internal = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
  const load = internal._load;
  internal._load = function (request, parent, isMain) {
    return request === PACKAGE_NAME ? self : load.call(this, request, parent, isMain);
  };
}
