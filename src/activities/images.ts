import { cancellationSignal } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { isUuid, type ImageFunction } from '../config/serverOptions.js';
import type { CallOptions, Image, ImageApi } from '../openstack/index.js';
import type { ImageSelector, ImageSpec, WorkerRef } from '../workflows/types.js';
import type { CloudRegistry } from './cloudRegistry.js';
import type { LookupCache } from './lookupCache.js';
import { cloudCall } from './failures.js';
import { FAILURE_TYPES } from '../contract/names.js';

export interface ResolveImageInput extends WorkerRef {
  image: ImageSpec;
}

/** What later steps need of the image: its id, and its size for deriving volume sizes. */
export interface ResolvedImage {
  id: string;
  name: string;
  sizeBytes?: number;
  minDiskGiB?: number;
}

/** The Glance reads that resolving an image needs. */
export type ImageReads = Pick<ImageApi, 'getImage' | 'findImagesByName' | 'listImages'>;

/** Every image the worker's account sees (all pages), as Glance describes them, for a master's image callable. */
export function listImagesActivity(clouds: CloudRegistry) {
  return async function listImages({ workerName }: WorkerRef): Promise<Image[]> {
    return cloudCall(() => clouds.forWorker(workerName).image.listImages({}, { signal: cancellationSignal() }));
  };
}

export function resolveImageActivity(clouds: CloudRegistry) {
  return async function resolveImage({ workerName, image }: ResolveImageInput): Promise<ResolvedImage> {
    const glance = cachedReads(clouds.forWorker(workerName).image, clouds.shareFor(workerName).lookups);
    return findImage(glance, image, () => clouds.imageFunctionFor(workerName), { signal: cancellationSignal() });
  };
}

/**
 * Glance's answers from the cloud's look-up cache: a thousand lifecycles of one definition list
 * the images once. The image function still runs every time, on the cached list.
 */
function cachedReads(glance: ImageApi, lookups: LookupCache): ImageReads {
  return {
    getImage: async (id, options) => structuredClone(await lookups.get(`image:${id}`, () => glance.getImage(id), options?.signal)),
    findImagesByName: async (name, options) => structuredClone(await lookups.get(`images-named:${name}`, () => glance.findImagesByName(name), options?.signal)),
    // The image function gets its own copy: what it does to the list must not change the cached one.
    listImages: async (filters, options) => structuredClone(await lookups.get(`images:${JSON.stringify(filters ?? {})}`, () => glance.listImages(filters), options?.signal)),
  };
}

/** The image a spec names, as a launch would boot it; also what `latent-worker validate --connect` checks. */
export async function findImage(glance: ImageReads, image: ImageSpec, imageFunction: () => ImageFunction, options: CallOptions): Promise<ResolvedImage> {
  if (typeof image === 'string' && isUuid(image)) {
    const found = await cloudCall(() => glance.getImage(image, options));
    if (!found) throw ApplicationFailure.nonRetryable(`image ${image} does not exist or is not visible to this project`, FAILURE_TYPES.imageNotFound);
    return usable(found);
  }
  if (typeof image === 'string') {
    return usable(only(await cloudCall(() => glance.findImagesByName(image, options)), `named "${image}"`));
  }
  if ('resolver' in image) {
    const choose = imageFunction();
    const images = await cloudCall(() => glance.listImages({}, options));
    return usable(await chosenByFunction(choose, images));
  }
  const candidates = await cloudCall(() => glance.listImages(serverSideFilters(image), options));
  return usable(pick(candidates.filter((candidate) => matches(candidate, image)), image));
}

function usable(image: Image): ResolvedImage {
  if (image.status !== 'active') {
    throw ApplicationFailure.nonRetryable(`image ${image.id} (${image.name}) is ${image.status}, not active`, FAILURE_TYPES.imageNotActive);
  }
  return { id: image.id, name: image.name ?? image.id, sizeBytes: image.size ?? undefined, minDiskGiB: image.min_disk ?? undefined };
}

function only(candidates: Image[], what: string): Image {
  if (candidates.length === 0) throw ApplicationFailure.nonRetryable(`no active image is ${what}`, FAILURE_TYPES.imageNotFound);
  if (candidates.length > 1) {
    const listed = candidates.map((candidate) => `${candidate.id} (created ${candidate.created_at})`).join(', ');
    throw ApplicationFailure.nonRetryable(`more than one image is ${what}: ${listed}; use a UUID or a selector with pick`, 'ImageAmbiguous');
  }
  return candidates[0]!;
}

/** Glance filters exactly on tags, properties and visibility; the name pattern is ours to apply. */
function serverSideFilters(selector: ImageSelector) {
  return { status: 'active' as const, tags: selector.tags, properties: selector.properties, visibility: selector.visibility };
}

function matches(image: Image, selector: ImageSelector): boolean {
  return image.status === 'active' && (selector.name === undefined || new RegExp(selector.name).test(image.name ?? ''));
}

function pick(candidates: Image[], selector: ImageSelector): Image {
  if (candidates.length === 0) {
    throw ApplicationFailure.nonRetryable(`no active image matches the selector ${JSON.stringify(selector)}`, FAILURE_TYPES.imageNotFound);
  }
  const byAge = [...candidates].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  return selector.pick === 'oldest' ? byAge[0]! : byAge.at(-1)!;
}

/** Runs the worker's image function (the seed's `find_image`) over every image, all pages read. */
async function chosenByFunction(choose: (images: Image[]) => Image | string | Promise<Image | string>, images: Image[]): Promise<Image> {
  let chosen: Image | string;
  try {
    chosen = await choose(images);
  } catch (error) {
    throw ApplicationFailure.nonRetryable(`the image function threw: ${error instanceof Error ? error.message : String(error)}`, FAILURE_TYPES.imageFunctionFailed);
  }
  const id = typeof chosen === 'string' ? chosen : chosen?.id;
  const image = images.find((candidate) => candidate.id === id);
  if (!image) {
    throw ApplicationFailure.nonRetryable(`the image function returned ${JSON.stringify(id ?? chosen)}, which is not one of the ${images.length} images it was given`, FAILURE_TYPES.imageFunctionFailed);
  }
  return image;
}
