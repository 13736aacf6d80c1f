import { connect, type ClientHttp2Session } from 'node:http2';
import { generateApnsKey, signApnsProviderToken } from '@hpns/testkit';
import {
  ALERT,
  closeSession,
  connectTo,
  h2Request,
  randomToken,
  startApnsFixture,
  type ApnsFixture,
} from './apns-helpers';

const START_MS = Date.UTC(2026, 0, 1, 12, 0, 0);
const MINUTE_MS = 60_000;

describe('APNs simulator provider tokens (reference §1.6)', () => {
  let clockMs = START_MS;
  let fx: ApnsFixture;
  const sessions: ClientHttp2Session[] = [];

  beforeEach(async () => {
    clockMs = START_MS;
    fx = await startApnsFixture({ now: () => clockMs, streamLimitMode: 'fixed' });
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map(closeSession));
    await fx.sim.close();
  });

  const open = async () => {
    const session = await connectTo(fx.sim);
    sessions.push(session);
    return session;
  };
  const pushWith = async (session: ClientHttp2Session, jwt: string) => {
    const reply = await h2Request(
      session,
      fx.headers(randomToken(), { authorization: `bearer ${jwt}` }),
      ALERT,
    );
    return reply.status === 200 ? 'ok' : `${reply.status} ${reply.json?.reason}`;
  };
  const nowSec = () => Math.floor(clockMs / 1000);

  it('accepts a valid ES256 token and verifies its signature once per connection', async () => {
    const session = await open();
    const jwt = fx.jwt();
    expect(await pushWith(session, jwt)).toBe('ok');
    expect(await pushWith(session, jwt)).toBe('ok');
    expect(await pushWith(session, jwt)).toBe('ok');
    expect(fx.sim.counters()).toMatchObject({ jwtVerifications: 1, jwtChanges: 0 });
  });

  it('answers InvalidProviderToken when signature, key id, issuer, algorithm or encoding is wrong', async () => {
    const session = await open();
    const stranger = generateApnsKey({ teamId: fx.key.teamId });
    const sign = (privateKeyPem: string, keyId: string, teamId: string) =>
      signApnsProviderToken({ privateKeyPem, keyId, teamId, issuedAtSec: nowSec() });
    const forgedSignature = sign(stranger.privateKeyPem, fx.key.keyId, fx.key.teamId);
    const unknownKid = sign(stranger.privateKeyPem, stranger.keyId, fx.key.teamId);
    const otherIssuer = sign(fx.key.privateKeyPem, fx.key.keyId, 'OTHERTEAM1');
    const [, claims, signature] = fx.jwt().split('.');
    const hs256Header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: fx.key.keyId })).toString(
      'base64url',
    );
    for (const jwt of [
      forgedSignature,
      unknownKid,
      otherIssuer,
      `${hs256Header}.${claims}.${signature}`,
      'a.b.c',
    ]) {
      expect(await pushWith(session, jwt)).toBe('403 InvalidProviderToken');
    }
    expect(await pushWith(session, fx.jwt())).toBe('ok');
  });

  it('answers ExpiredProviderToken once iat is more than an hour old on the simulator clock', async () => {
    const session = await open();
    const first = fx.jwt();
    expect(await pushWith(session, first)).toBe('ok');
    clockMs += 60 * MINUTE_MS;
    expect(await pushWith(session, first)).toBe('ok');
    clockMs += 1000;
    expect(await pushWith(session, first)).toBe('403 ExpiredProviderToken');
    // The client's answer: one fresh token, which is a legal change after more than 20 minutes.
    expect(await pushWith(session, fx.jwt())).toBe('ok');
    expect(fx.sim.counters().jwtChanges).toBe(1);
  });

  it('answers InvalidProviderToken when iat lies further in the future than the allowed skew', async () => {
    const session = await open();
    expect(await pushWith(session, fx.jwt(nowSec() + 61))).toBe('403 InvalidProviderToken');
    expect(await pushWith(session, fx.jwt(nowSec() + 30))).toBe('ok');
  });

  it('answers TooManyProviderTokenUpdates when a connection changes token within 20 minutes', async () => {
    const session = await open();
    const first = fx.jwt();
    expect(await pushWith(session, first)).toBe('ok');
    clockMs += 10 * MINUTE_MS;
    const second = fx.jwt();
    expect(await pushWith(session, second)).toBe('429 TooManyProviderTokenUpdates');
    expect(await pushWith(session, first)).toBe('ok');
    // The rule is per connection: another connection may start with the new token right away.
    expect(await pushWith(await open(), second)).toBe('ok');
    clockMs += 10 * MINUTE_MS;
    expect(await pushWith(session, second)).toBe('ok');
    expect(fx.sim.counters()).toMatchObject({ jwtChanges: 1, byReason: { TooManyProviderTokenUpdates: 1 } });
  });

  it('binds the first token team and key to the connection', async () => {
    const sameTeam = generateApnsKey({ teamId: fx.key.teamId });
    const otherTeam = generateApnsKey();
    for (const key of [sameTeam, otherTeam]) fx.sim.registerKey(key);
    const session = await open();
    expect(await pushWith(session, fx.jwt())).toBe('ok');
    expect(await pushWith(session, fx.jwt(undefined, otherTeam))).toBe('403 Forbidden');
    expect(await pushWith(session, fx.jwt(undefined, sameTeam))).toBe('403 UnrelatedKeyIdInToken');
    expect(await pushWith(await open(), fx.jwt(undefined, otherTeam))).toBe('ok');
  });

  it('answers BadEnvironmentKeyIdInToken for a key scoped to the other environment', async () => {
    const sandboxKey = generateApnsKey();
    fx.sim.registerKey({ ...sandboxKey, environment: 'sandbox' });
    expect(await pushWith(await open(), fx.jwt(undefined, sandboxKey))).toBe(
      '403 BadEnvironmentKeyIdInToken',
    );
  });
});

describe('APNs simulator without provider-token checks', () => {
  it('accepts pushes without authorization when auth is none', async () => {
    const fx = await startApnsFixture({ auth: 'none', streamLimitMode: 'fixed' });
    const session = await connectTo(fx.sim);
    try {
      const headers = fx.headers(randomToken());
      delete headers.authorization;
      expect((await h2Request(session, headers, ALERT)).status).toBe(200);
    } finally {
      await closeSession(session);
      await fx.sim.close();
    }
  });
});

describe('APNs simulator SETTINGS_MAX_CONCURRENT_STREAMS (reference §1.6, §1.8, §7.1)', () => {
  let fx: ApnsFixture;
  afterEach(() => fx.sim.close());

  it('advertises one stream until a push with a valid token, then maxConcurrentStreams', async () => {
    fx = await startApnsFixture({ maxConcurrentStreams: 50 });
    const session = await connectTo(fx.sim);
    try {
      expect(session.remoteSettings.maxConcurrentStreams).toBe(1);
      const invalid = fx.headers(randomToken(), { authorization: 'bearer a.b.c' });
      expect((await h2Request(session, invalid, ALERT)).status).toBe(403);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(1);
      // SETTINGS goes out before the answer, so the client knows the new limit when the push resolves.
      expect((await h2Request(session, fx.headers(randomToken()), ALERT)).status).toBe(200);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(50);
    } finally {
      await closeSession(session);
    }
  });

  it('refuses a cold-start burst beyond the first stream when it races the server SETTINGS', async () => {
    fx = await startApnsFixture();
    // Requests written right after connect leave before the client has read SETTINGS (max 1): the server
    // refuses the extra streams (REFUSED_STREAM = not processed, safe to retry; §1.8).
    const session = connect(fx.sim.url, { ca: fx.sim.caPem });
    try {
      const burst = await Promise.allSettled(
        [1, 2, 3].map(() => h2Request(session, fx.headers(randomToken()), ALERT)),
      );
      const outcomes = burst.map((r) =>
        r.status === 'fulfilled' ? r.value.status : (r.reason as Error).message,
      );
      expect(outcomes.filter((o) => o === 200)).toHaveLength(1);
      expect(outcomes.filter((o) => String(o).includes('NGHTTP2_REFUSED_STREAM'))).toHaveLength(2);
      expect(fx.sim.counters().requests).toBe(1);
    } finally {
      await closeSession(session);
    }
  });

  it('lets a client that read SETTINGS queue a burst behind the single stream', async () => {
    fx = await startApnsFixture();
    const session = await connectTo(fx.sim);
    try {
      // nghttp2 holds streams above the peer limit it knows of; the first success raises the limit.
      const burst = await Promise.all(
        [1, 2, 3].map(() => h2Request(session, fx.headers(randomToken()), ALERT)),
      );
      expect(burst.map((reply) => reply.status)).toEqual([200, 200, 200]);
    } finally {
      await closeSession(session);
    }
  });

  it('advertises maxConcurrentStreams from the start in fixed mode', async () => {
    fx = await startApnsFixture({ streamLimitMode: 'fixed', maxConcurrentStreams: 7 });
    const session = await connectTo(fx.sim);
    expect(session.remoteSettings.maxConcurrentStreams).toBe(7);
    await closeSession(session);
  });

  it('drops to one stream after a rejected push and restores after a success in error-drop mode', async () => {
    fx = await startApnsFixture({ streamLimitMode: 'error-drop', maxConcurrentStreams: 20 });
    const session = await connectTo(fx.sim);
    try {
      await h2Request(session, fx.headers(randomToken()), ALERT);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(20);
      expect((await h2Request(session, fx.headers(randomToken()), '')).status).toBe(400);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(1);
      expect((await h2Request(session, fx.headers(randomToken()), ALERT)).status).toBe(200);
      expect(session.remoteSettings.maxConcurrentStreams).toBe(20);
    } finally {
      await closeSession(session);
    }
  });
});
