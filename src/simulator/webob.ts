import type { SimResponse } from './server.js';

// Glance errors, and Nova/Glance routing misses, are plain webob HTTP exceptions: the body
// format follows the Accept header (text/html wins ties and an absent header), and the message
// keeps webob's body template, `<br /><br />` included.

const titles: Record<number, string> = {
  300: 'Multiple Choices',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  500: 'Internal Server Error',
};

const defaultExplanations: Record<number, string> = {
  404: 'The resource could not be found.',
  405: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  500: 'The server has either erred or is incapable of performing the requested operation.',
};

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
  if (accept === undefined || accept.trim() === '') return 'html';
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
  const title = titles[status] ?? 'Error';
  const statusLine = `${status} ${title}`;
  const body = (text: string): string => `${text}<br /><br />\n\n`;
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
        text: `${statusLine}\n\n${explanation}\n\n  `,
      };
  }
}
