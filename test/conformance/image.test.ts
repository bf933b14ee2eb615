import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, header, login, type Login } from './support/http.js';
import { openTarget, type Target } from './support/target.js';

let target: Target;
let demo: Login;

beforeAll(async () => {
  target = await openTarget();
  demo = await login(target, target.demo);
});

afterAll(async () => {
  await target?.close();
});

const imageKeys = [
  'checksum', 'container_format', 'created_at', 'disk_format', 'file', 'id', 'min_disk', 'min_ram', 'name',
  'os_hash_algo', 'os_hash_value', 'os_hidden', 'owner', 'protected', 'schema', 'self', 'size', 'status', 'stores',
  'tags', 'updated_at', 'virtual_size', 'visibility',
];
const glanceTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const missing = '11111111-2222-3333-4444-555555555555';

async function tinyImage() {
  const res = await call('GET', `${demo.image}/v2/images?name=${encodeURIComponent(target.image)}`, { token: demo.token });
  expect(res.status).toBe(200);
  expect(res.body.images).toHaveLength(1);
  return res.body.images[0];
}

describe('image list and get (Glance v2)', () => {
  it('lists images with the collection links and full image views', async () => {
    const res = await call('GET', `${demo.image}/v2/images`, { token: demo.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ first: '/v2/images', schema: '/v2/schemas/images', images: expect.any(Array) });
    expect(res.body.next).toBeUndefined();
    const tiny = res.body.images.find((i: { name: string }) => i.name === target.image);
    expect(Object.keys(tiny).sort()).toEqual(imageKeys);
  });

  it('filters by name and shows the test image as the real cloud has it', async () => {
    const image = await tinyImage();
    expect(image).toMatchObject({
      name: 'tiny',
      status: 'active',
      visibility: 'public',
      disk_format: 'qcow2',
      container_format: 'bare',
      size: 196616,
      min_disk: 0,
      min_ram: 0,
      protected: false,
      os_hidden: false,
      os_hash_algo: 'sha512',
      tags: [],
      stores: 'file',
      self: `/v2/images/${image.id}`,
      file: `/v2/images/${image.id}/file`,
      schema: '/v2/schemas/image',
    });
    expect(image.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(image.checksum).toMatch(/^[0-9a-f]{32}$/);
    expect(image.os_hash_value).toMatch(/^[0-9a-f]{128}$/);
    expect(image.created_at).toMatch(glanceTime);
    expect(image.updated_at).toMatch(glanceTime);
    expect(typeof image.virtual_size).toBe('number');
  });

  it('gets one image by id, the same view as in the list', async () => {
    const listed = await tinyImage();
    const res = await call('GET', `${demo.image}/v2/images/${listed.id}`, { token: demo.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(listed);
  });

  it('pages with limit and marker, with a next link while a page is full', async () => {
    const first = await call('GET', `${demo.image}/v2/images?limit=1`, { token: demo.token });
    expect(first.body.images).toHaveLength(1);
    expect(first.body.first).toBe('/v2/images?limit=1');
    const marker = first.body.images[0].id;
    expect(first.body.next).toBe(`/v2/images?limit=1&marker=${marker}`);
    const seen = new Set([marker]);
    let next: string | undefined = first.body.next;
    for (let page = 0; next !== undefined && page < 50; page += 1) {
      const res = await call('GET', `${demo.image}${next}`, { token: demo.token });
      for (const image of res.body.images) {
        expect(seen.has(image.id)).toBe(false);
        seen.add(image.id);
      }
      next = res.body.next;
    }
    expect(next).toBeUndefined();
  });
});

describe('image errors', () => {
  it('answers an unknown id with 404 in the format the Accept header asks for', async () => {
    const json = await call('GET', `${demo.image}/v2/images/${missing}`, { token: demo.token });
    expect(json.status).toBe(404);
    expect(json.body).toEqual({ message: `No image found with ID ${missing}<br /><br />\n\n\n`, code: '404 Not Found', title: 'Not Found' });
    const html = await call('GET', `${demo.image}/v2/images/${missing}`, { token: demo.token, headers: { accept: '*/*' } });
    expect(header(html, 'content-type')).toBe('text/html; charset=UTF-8');
    expect(html.text).toBe(
      `<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID ${missing}<br /><br />\n\n\n\n </body>\n</html>`,
    );
    // webob reads a missing Accept header as accepting nothing it offers: plain text.
    const plain = await call('GET', `${demo.image}/v2/images/${missing}`, { token: demo.token, headers: { accept: '' } });
    expect(plain.text).toBe(`404 Not Found\n\nNo image found with ID ${missing}\n\n   `);
  });

  it('answers an id that is no UUID with the same 404', async () => {
    const res = await call('GET', `${demo.image}/v2/images/not-a-uuid`, { token: demo.token });
    expect(res.status).toBe(404);
    expect(res.body.message).toBe('No image found with ID not-a-uuid<br /><br />\n\n\n');
  });

  it('answers a bad limit with 400, and no token with 401', async () => {
    const bad = await call('GET', `${demo.image}/v2/images?limit=abc`, { token: demo.token });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ message: 'limit param must be an integer<br /><br />\n\n\n', code: '400 Bad Request', title: 'Bad Request' });
    const anonymous = await call('GET', `${demo.image}/v2/images`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({
      message:
        'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.<br /><br />\n\n\n',
      code: '401 Unauthorized',
      title: 'Unauthorized',
    });
    expect(header(anonymous, 'www-authenticate')).toBe(`Keystone uri="${target.authUrl}"`);
  });
});
