import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { MetricsScraper } from '../src/scrape';

/** The scraper against a /metrics that wants the admin token, as HPNS's admin routes do with HPNS_ADMIN_TOKEN_FILE. */
let server: Server;
let url: string;
const TOKEN = 'loadtest-admin-token-0123456789';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hpns_queue_jobs{region="us",queue="apns",state="waiting"} 7\nprocess_cpu_seconds_total 1.5\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('sends the admin token with each scrape, and records a refused scrape as down', async () => {
  const withToken = new MetricsScraper([url], { bearerToken: TOKEN });
  withToken.start(performance.now(), 60_000);
  await withToken.stop();
  expect(withToken.series[0]!.points.every((p) => p.up)).toBe(true);
  expect(withToken.latest()[0]?.queueJobs).toBe(7);

  const without = new MetricsScraper([url]);
  without.start(performance.now(), 60_000);
  await without.stop();
  expect(without.series[0]!.points.map((p) => [p.up, p.error])).toContainEqual([false, 'HTTP 401']);
});
