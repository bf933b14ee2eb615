import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { spawnGuarded } from '../../src/temporal/guardedProcess.js';
import { freePort, portOpen } from '../../src/temporal/ports.js';

const run = promisify(execFile);

/** PEM files the tests generate: one CA that signs the front and the good client, and a stranger CA. */
export interface TestCertificates {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing the front trusts, and a client certificate it signed. */
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
}

export interface TlsFront {
  /** 127.0.0.1:PORT that demands a client certificate signed by `certs.caCert` (ssl_verify_client on). */
  mtlsAddress: string;
  /** 127.0.0.1:PORT that demands `authorization: Bearer <apiKey>`. */
  apiKeyAddress: string;
  /** The name in the front's certificate (it is for `localhost` and 127.0.0.1). */
  serverName: string;
  certs: TestCertificates;
  stop(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 30_000 });
}

async function signedCertificate(dir: string, name: string, subject: string, ca: string, extensions: string): Promise<void> {
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
}

/** A CA, a server certificate for localhost/127.0.0.1, a client certificate, and the same from a CA nobody trusts. */
export async function generateCertificates(dir: string): Promise<TestCertificates> {
  mkdirSync(dir, { recursive: true });
  for (const ca of ['ca', 'other-ca']) {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=latent-worker test ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  }
  await signedCertificate(dir, 'server', '/CN=localhost', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await signedCertificate(dir, 'client', '/CN=latent-worker', 'ca', 'extendedKeyUsage=clientAuth\n');
  await signedCertificate(dir, 'other-client', '/CN=intruder', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return {
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    otherCaCert: file('other-ca.crt'),
    otherClientCert: file('other-client.crt'),
    otherClientKey: file('other-client.key'),
  };
}

/**
 * Debian's nginx as a TLS front for a Temporal frontend (`upstream`, plaintext gRPC): one
 * listener with mutual TLS, one that checks an API key. Refusals are answered the way a secured
 * Temporal service answers them, as gRPC status UNAUTHENTICATED with a message.
 */
export async function startTlsFront({ upstream, apiKey, dir }: { upstream: string; apiKey: string; dir: string }): Promise<TlsFront> {
  const certs = await generateCertificates(path.join(dir, 'certs'));
  const [mtlsPort, apiKeyPort] = [await freePort(), await freePort()];
  for (const sub of ['tmp', 'logs']) mkdirSync(path.join(dir, sub), { recursive: true });
  const refusal = (message: string) => `default_type application/grpc; add_header grpc-status 16 always; add_header grpc-message "${message}" always; return 204;`;
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  # Long polls last about a minute.
  grpc_read_timeout 300s;
  grpc_send_timeout 300s;
  client_body_timeout 300s;
  client_max_body_size 0;
  ssl_certificate ${certs.serverCert};
  ssl_certificate_key ${certs.serverKey};
  server {
    listen 127.0.0.1:${mtlsPort} ssl http2;
    ssl_client_certificate ${certs.caCert};
    ssl_verify_client on;
    error_page 495 = @bad_certificate;
    error_page 496 = @no_certificate;
    location / { grpc_pass grpc://${upstream}; }
    location @bad_certificate { ${refusal('client certificate refused: not signed by a trusted CA')} }
    location @no_certificate { ${refusal('client certificate required')} }
  }
  server {
    listen 127.0.0.1:${apiKeyPort} ssl http2;
    error_page 401 = @bad_key;
    location / {
      if ($http_authorization != "Bearer ${apiKey}") { return 401; }
      grpc_pass grpc://${upstream};
    }
    location @bad_key { ${refusal('Request unauthorized: invalid API key')} }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const nginx = spawnGuarded(nginxBinary(), ['-p', dir, '-c', confFile], path.join(dir, 'logs', 'nginx.out'));
  const deadline = Date.now() + 30_000;
  while (!((await portOpen(mtlsPort)) && (await portOpen(apiKeyPort)))) {
    if (nginx.hasExited() || Date.now() > deadline) {
      await nginx.stop();
      throw new Error(`nginx (the TLS front) did not listen on ${mtlsPort} and ${apiKeyPort}: see ${dir}/logs/error.log and nginx.out`);
    }
    await delay(100);
  }
  return {
    mtlsAddress: `127.0.0.1:${mtlsPort}`,
    apiKeyAddress: `127.0.0.1:${apiKeyPort}`,
    serverName: 'localhost',
    certs,
    stop: () => nginx.stop(),
  };
}

function nginxBinary(): string {
  return '/usr/sbin/nginx';
}
