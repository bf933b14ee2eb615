import { isOpenStackError, isRecord, OpenStackError } from './errors.js';
import type { HttpResponse, Query } from './http.js';
import type { CallOptions } from './keystone.js';
import type { ServiceConnection } from './service.js';

export type ImageStatus =
  | 'queued'
  | 'saving'
  | 'uploading'
  | 'importing'
  | 'active'
  | 'deactivated'
  | 'killed'
  | 'deleted'
  | 'pending_delete';

export type ImageVisibility = 'public' | 'private' | 'shared' | 'community';

/** Glance v2 image. Custom properties (os_distro, hw_*, ...) are top-level keys too. */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: ImageVisibility;
  /** Bytes; null until data is uploaded. */
  size: number | null;
  /** GiB. */
  min_disk: number;
  /** MiB. */
  min_ram: number;
  disk_format: string | null;
  container_format: string | null;
  created_at: string;
  updated_at: string;
  tags: string[];
  owner: string | null;
  protected: boolean;
  [property: string]: unknown;
}

export interface ImageFilters {
  /** Exact match (Glance does not do patterns). */
  name?: string;
  status?: ImageStatus;
  visibility?: ImageVisibility | 'all';
  /** Images carrying all of these tags. */
  tags?: readonly string[];
  owner?: string;
  /** Page size; all pages are read either way. */
  limit?: number;
  /** Start after this image id. */
  marker?: string;
  /** e.g. `created_at:desc,name:asc`. */
  sort?: string;
  /** Custom properties that must match exactly, e.g. `{ os_distro: 'debian' }`. */
  properties?: Readonly<Record<string, string>>;
}

const FILTER_KEYS = new Set(['name', 'status', 'visibility', 'tag', 'owner', 'limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status']);

/** Glance, the image service (API v2). */
export class ImageApi {
  constructor(private readonly connection: ServiceConnection) {}

  /** Undefined when Glance answers 404 (also for images the project may not see). */
  async getImage(id: string, options: CallOptions = {}): Promise<Image | undefined> {
    try {
      const response = await this.connection.request({
        operation: 'getImage',
        method: 'GET',
        url: (endpoint) => `${imageV2(endpoint)}/images/${encodeURIComponent(id)}`,
        signal: options.signal,
      });
      return imageOf('getImage', response, response.body);
    } catch (error) {
      if (isOpenStackError(error, 'notFound')) return undefined;
      throw error;
    }
  }

  /** `GET /v2/images`, following `next` to the last page. */
  async listImages(filters: ImageFilters = {}, options: CallOptions = {}): Promise<Image[]> {
    const clash = Object.keys(filters.properties ?? {}).find((key) => FILTER_KEYS.has(key));
    if (clash !== undefined) throw new RangeError(`image property filter '${clash}' collides with Glance's own '${clash}' filter`);
    const query: Query = {
      ...filters.properties,
      name: filters.name,
      status: filters.status,
      visibility: filters.visibility,
      tag: filters.tags,
      owner: filters.owner,
      limit: filters.limit,
      marker: filters.marker,
      sort: filters.sort,
    };
    const images: Image[] = [];
    const seenIds = new Set<string>();
    const seenQueries = new Set<string>();
    // `next` is relative to the endpoint root ("/v2/images?marker=..."). It already carries the
    // filters; only its query is used, on our own images URL, so an endpoint mounted under a
    // path prefix ("http://host/image") keeps its prefix.
    let nextQuery: string | undefined;
    for (;;) {
      const pageQuery = nextQuery;
      const response = await this.connection.request({
        operation: 'listImages',
        method: 'GET',
        url: (endpoint) => `${imageV2(endpoint)}/images${pageQuery ?? ''}`,
        query: pageQuery === undefined ? query : undefined,
        signal: options.signal,
      });
      const body = isRecord(response.body) ? response.body : {};
      if (!Array.isArray(body.images)) invalid('listImages', response, 'expected an "images" array');
      for (const item of body.images) {
        const image = imageOf('listImages', response, item);
        // A repeat means broken paging: the list could be incomplete as well.
        if (seenIds.has(image.id)) invalid('listImages', response, `pagination returned ${image.id} twice`);
        seenIds.add(image.id);
        images.push(image);
      }
      if (typeof body.next !== 'string') return images;
      nextQuery = new URL(body.next, 'http://relative.invalid').search;
      if (seenQueries.has(nextQuery)) invalid('listImages', response, `pagination repeats ${body.next}`);
      seenQueries.add(nextQuery);
    }
  }

  /** Active images with exactly this name, newest first (sorted here: not every Glance honours `sort`). */
  async findImagesByName(name: string, options: CallOptions = {}): Promise<Image[]> {
    const images = await this.listImages({ name, status: 'active' }, options);
    return images.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }
}

/** Catalogs register Glance unversioned ("http://host:9292") or, sometimes, with "/v2". */
function imageV2(endpoint: string): string {
  return `${endpoint.replace(/\/v2(\.\d+)?$/, '')}/v2`;
}

function imageOf(operation: string, response: HttpResponse, value: unknown): Image {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.status !== 'string') {
    invalid(operation, response, 'expected an image with "id" and "status"');
  }
  return value as unknown as Image;
}

function invalid(operation: string, response: HttpResponse, detail: string): never {
  throw new OpenStackError(
    { kind: 'invalidResponse', service: 'image', operation, status: response.status, requestId: response.requestId, retryable: false },
    `unexpected answer: ${detail}`,
  );
}
