import { HttpError, type SimResponse } from './server.js';
import type { SimState } from './state.js';

// Keystone's error answers (keystone/exception.py rendered by its Flask app), shared by the
// token, application credential and version routes.

export const validationTail =
  'The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';
const unauthorizedMessage = 'The request you have made requires authentication.';

export function keystoneError(status: number, title: string, message: string, extra: Record<string, unknown> = {}): SimResponse {
  return { status, json: { error: { code: status, title, message, ...extra } } };
}

export const badRequest = (message: string): HttpError => new HttpError(keystoneError(400, 'Bad Request', message));
export const expecting = (attribute: string, target: string): HttpError =>
  badRequest(`Expecting to find ${attribute} in ${target}. ${validationTail}`);

// keystonemiddleware and Keystone both name the versioned identity URL (www_authenticate_uri).
export const wwwAuthenticate = (state: SimState): Record<string, string> => ({ 'www-authenticate': `Keystone uri="${state.baseUrl}/identity/v3"` });

export function unauthorized(state: SimState, extra: Record<string, unknown> = {}): HttpError {
  const res = keystoneError(401, 'Unauthorized', unauthorizedMessage, extra);
  return new HttpError({ ...res, headers: wwwAuthenticate(state) });
}

/** Flask's answer for a path no view serves. */
export const flaskNotFound: SimResponse = {
  status: 404,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  text:
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n',
};
