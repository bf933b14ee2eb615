import type { SimResponse } from './server.js';

// Glance errors, and Nova/Glance routing misses, are plain webob HTTP exceptions: the body
// format follows the Accept header (text/html wins ties, no header means text/plain), and the message
// keeps webob's body template, `<br /><br />` included.

const titles: Record<number, string> = {
  300: 'Multiple Choices',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

// webob.exc's class-level explanations, the default message of each status.
const defaultExplanations: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401:
    'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  405: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  409: 'There was a conflict when trying to complete your request.',
  413: 'The body of your request was too large for this server.',
  429: 'The client has sent too many requests in a given amount of time',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  501: 'The server has either erred or is incapable of performing the requested operation.',
  502: 'Bad gateway.',
  503: 'The server is currently unavailable. Please try again at a later time.',
  504: 'The gateway has timed out.',
};

export const statusTitle = (status: number): string => titles[status] ?? 'Error';
export const statusExplanation = (status: number): string => defaultExplanations[status] ?? '';

function quality(accept: string, type: string): number {
  let best = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().split(';');
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    const [main, sub] = range.trim().toLowerCase().split('/');
    const [wantMain, wantSub] = type.split('/');
    if ((main === '*' || main === wantMain) && (sub === '*' || sub === wantSub)) {
      best = Math.max(best, q === undefined ? 1 : Number(q));
    }
  }
  return best;
}

function negotiate(accept: string | undefined): 'html' | 'json' | 'plain' {
  // webob reads a missing header as '', which accepts no offer: plain text.
  if (accept === undefined || accept.trim() === '') return 'plain';
  const html = quality(accept, 'text/html');
  const json = quality(accept, 'application/json');
  if (html === 0 && json === 0) return 'plain';
  return json > html ? 'json' : 'html';
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function webobError(
  status: number,
  accept: string | undefined,
  explanation = defaultExplanations[status] ?? '',
  headers: Record<string, string> = {},
): SimResponse {
  const title = statusTitle(status);
  const statusLine = `${status} ${title}`;
  const body = (text: string): string => `${text}<br /><br />\n\n\n`;
  switch (negotiate(accept)) {
    case 'json':
      return { status, headers, json: { message: body(explanation), code: statusLine, title } };
    case 'html':
      return {
        status,
        headers: { ...headers, 'content-type': 'text/html; charset=UTF-8' },
        text: `<html>\n <head>\n  <title>${statusLine}</title>\n </head>\n <body>\n  <h1>${statusLine}</h1>\n  ${body(escapeHtml(explanation))}\n </body>\n</html>`,
      };
    case 'plain':
      return {
        status,
        headers: { ...headers, 'content-type': 'text/plain; charset=UTF-8' },
        text: `${statusLine}\n\n${explanation}\n\n   `,
      };
  }
}
