// Container health check of an HPNS process: GET /readyz (or the path given as the first argument) on the admin
// server named by HPNS_ADMIN_LISTEN_ADDRESS (default 127.0.0.1:9464; a wildcard host is checked on loopback).
// Exits 0 on HTTP 200 and 1 otherwise. Used by the image's HEALTHCHECK and by docker-compose.yml.
import { request } from 'node:http';

const address = process.env.HPNS_ADMIN_LISTEN_ADDRESS || '127.0.0.1:9464';
const colon = address.lastIndexOf(':');
let host = address.slice(0, colon).replace(/^\[|\]$/g, '');
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
if (host === '::') host = '::1';
const port = Number(address.slice(colon + 1));
const path = process.argv[2] ?? '/readyz';

const req = request({ host, port, path, method: 'GET', timeout: 4000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port}${path}`)));
req.on('error', (error) => {
  console.error(`healthcheck: ${error.message}`);
  process.exit(1);
});
req.end();
