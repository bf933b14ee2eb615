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

export function novaFault(code: number, message: string, extra: Record<string, unknown> = {}): SimResponse {
  return { status: code, json: { [faultNames[code] ?? 'computeFault']: { code, message, ...extra } } };
}

export const novaError = (code: number, message: string): HttpError => new HttpError(novaFault(code, message));

/** The body of any Nova 500 that is not a NovaException: what an unexpected failure looks like. */
export const novaUnexpected =
  "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'Exception'>";
