/**
 * The simplest example of Buildbot's OpenStackLatentWorker documentation, argument for argument
 * (examples/seed-simplest.yaml is the same as a file). `latent-worker dev` runs it against the
 * simulator; tests start from it.
 */
export const SEED_SIMPLEST_EXAMPLE = {
  name: 'bot2',
  password: 'sekrit',
  flavor: 1,
  image: '8ac9d4a4-5e03-48b0-acde-77a0345a9ab1',
  os_username: 'user',
  os_password: 'password',
  os_tenant_name: 'tenant',
  os_auth_url: 'http://127.0.0.1:35357/v2.0',
};
