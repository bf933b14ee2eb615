import { HttpError, type SimResponse } from './server.js';

// nova/api/openstack/wsgi.py Fault: the body key names the status; unlisted codes (406, 500)
// are a "computeFault".
const faultNames: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function novaFault(code: number, message: string): SimResponse {
  return { status: code, json: { [faultNames[code] ?? 'computeFault']: { code, message } } };
}

export const novaError = (code: number, message: string): HttpError => new HttpError(novaFault(code, message));
