import { isOpenStackError, isRecord, OpenStackError } from './errors.js';
import type { HttpResponse } from './http.js';
import type { CallOptions, Session } from './keystone.js';
import type { ServiceConnection } from './service.js';

/** The fields of a Cinder volume that this project reads; Cinder sends more. */
export interface Volume {
  id: string;
  name: string | null;
  status: string;
  /** GiB. */
  size: number;
  /** Cinder sends the strings "true" and "false". */
  bootable?: string;
  volume_type?: string | null;
  availability_zone?: string;
}

export interface VolumeSnapshot {
  id: string;
  name: string | null;
  status: string;
  /** GiB: the size of the volume it was taken from, the least a volume made from it can have. */
  size: number;
  volume_id: string;
}

/** Cinder, the block storage service (API v3). Only what sizing a boot volume needs. */
export class BlockStorageApi {
  constructor(private readonly connection: ServiceConnection) {}

  /** Undefined when Cinder answers 404 (also for volumes of other projects). */
  getVolume(id: string, options: CallOptions = {}): Promise<Volume | undefined> {
    return this.show('getVolume', 'volumes', 'volume', id, options) as Promise<Volume | undefined>;
  }

  /** Undefined when Cinder answers 404. */
  async getSnapshot(id: string, options: CallOptions = {}): Promise<VolumeSnapshot | undefined> {
    const snapshot = await this.show('getSnapshot', 'snapshots', 'snapshot', id, options);
    if (snapshot !== undefined && typeof snapshot.volume_id !== 'string') {
      throw new OpenStackError(
        { kind: 'invalidResponse', service: 'block-storage', operation: 'getSnapshot', retryable: false },
        'unexpected answer: expected a snapshot with "volume_id"',
      );
    }
    return snapshot as VolumeSnapshot | undefined;
  }

  private async show(
    operation: string,
    collection: string,
    key: string,
    id: string,
    options: CallOptions,
  ): Promise<Record<string, unknown> | undefined> {
    let response: HttpResponse;
    try {
      response = await this.connection.request({
        operation,
        method: 'GET',
        url: (endpoint, session) => `${cinderV3(endpoint, session)}/${collection}/${encodeURIComponent(id)}`,
        signal: options.signal,
      });
    } catch (error) {
      if (isOpenStackError(error, 'notFound')) return undefined;
      throw error;
    }
    const value = isRecord(response.body) ? response.body[key] : undefined;
    if (!isRecord(value) || typeof value.id !== 'string' || typeof value.size !== 'number') {
      throw new OpenStackError(
        { kind: 'invalidResponse', service: 'block-storage', operation, status: response.status, requestId: response.requestId, retryable: false },
        `unexpected answer: expected a ${key} with "id" and a numeric "size"`,
      );
    }
    return value;
  }
}

/**
 * Catalogs register Cinder as `.../v3/<project id>` (volumev3), sometimes unversioned or as v2
 * (block-storage, volumev2). `/v3/<project id>` works on every Cinder v3, so the project id from
 * the token is put back whatever the catalog had.
 */
function cinderV3(endpoint: string, session: Session): string {
  const suffix = `/${session.projectId}`;
  const withoutProject = endpoint.endsWith(suffix) ? endpoint.slice(0, -suffix.length) : endpoint;
  return `${withoutProject.replace(/\/v[23](\.\d+)?$/, '')}/v3/${session.projectId}`;
}
