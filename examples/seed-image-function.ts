// The seed document's image callable, in TypeScript: the worker process calls findImage with
// every image the project can see (all pages), and boots the oldest.
// In your own project, import from 'openstack-latent-worker' instead.
import { defineConfig, type Image } from '../src/index.js';

function findImage(images: Image[]): Image {
  // Sort oldest to newest.
  const candidates = [...images].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  // Return the oldest candidate image.
  return candidates[0]!;
}

export default defineConfig({
  workers: [
    {
      name: 'bot2',
      password: 'sekrit',
      flavor: 1,
      image: findImage,
      os_username: 'user',
      os_password: 'password',
      os_tenant_name: 'tenant',
      os_auth_url: 'http://127.0.0.1:35357/v2.0',
    },
  ],
});
