import { ControlRouter, type ControlReply } from '../control-server';
import { receiptQuery } from '../receipt-log';
import { type ApnsSimulator } from './apns-simulator';
import { checkFaultProfile, isInjectedFault, type ApnsFaultProfile } from './faults';
import { type ApnsEnvironment, type ApnsTokenEntry, type ApnsTokenState } from './token-registry';

/*
 * The APNs simulator's control API (reference §7 "a separate control API (plain HTTP/JSON)"), one route per
 * programmatic method. Errors thrown here become 400 {"error": …} in ControlRouter.
 *
 *   GET    /apns/info                     url, port, environment, caPem, clock
 *   POST   /apns/reset                    reset()
 *   GET    /apns/counters                 counters()
 *   GET    /apns/receipts?since=&limit=   receipts(): answered pushes after seq `since` (token, ack_id, status)
 *   GET    /apns/requests?limit=&token=   requests() (newest `limit`, optionally for one token)
 *   DELETE /apns/requests                 clearRequests()
 *   GET    /apns/keys                     listKeys()
 *   POST   /apns/keys                     registerKey({keyId, teamId, publicKeyPem, environment?})
 *   DELETE /apns/keys/:keyId              removeKey()
 *   GET    /apns/tokens                   listTokens()
 *   GET    /apns/tokens/:token            getToken()
 *   PUT    /apns/tokens/:token            setToken({bundleId, environment?, state?, timestampMs?})
 *   DELETE /apns/tokens/:token            removeToken()
 *   GET    /apns/topics/disallowed        listDisallowedTopics()
 *   PUT    /apns/topics/disallowed/:topic disallowTopic()
 *   DELETE /apns/topics/disallowed/:topic allowTopic()
 *   GET    /apns/faults                   faults (+ queued)
 *   PUT    /apns/faults                   setFaults(body)       (replace)
 *   POST   /apns/faults                   updateFaults(body)    (merge)
 *   DELETE /apns/faults                   setFaults({})
 *   POST   /apns/faults/next              injectNext(count, fault)
 *   POST   /apns/goaway                   goAway(reason?)
 *   POST   /apns/clock                    advanceClock(advanceMs)
 */

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

function optionalEnvironment(value: unknown): ApnsEnvironment | undefined {
  if (value === undefined) return undefined;
  if (value === 'sandbox' || value === 'production') return value;
  throw new Error('environment must be "sandbox" or "production"');
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new Error(`${name} must be a non-empty string`);
  return value;
}

function tokenState(body: Record<string, unknown>, nowMs: number): ApnsTokenState {
  switch (body.state ?? 'active') {
    case 'active':
      return { kind: 'active' };
    case 'expired':
      return { kind: 'expired' };
    case 'bad':
      return { kind: 'bad' };
    case 'unregistered': {
      const timestampMs = body.timestampMs ?? nowMs;
      if (typeof timestampMs !== 'number') throw new Error('timestampMs must be a number');
      return { kind: 'unregistered', timestampMs };
    }
    default:
      throw new Error('state must be one of active, unregistered, expired, bad');
  }
}

function tokenEntry(body: Record<string, unknown>, nowMs: number): ApnsTokenEntry {
  const entry: ApnsTokenEntry = {
    bundleId: requiredString(body, 'bundleId'),
    state: tokenState(body, nowMs),
  };
  const environment = optionalEnvironment(body.environment);
  if (environment !== undefined) entry.environment = environment;
  return entry;
}

function faultProfile(body: unknown): ApnsFaultProfile {
  const profile = record(body ?? {}, 'faults') as ApnsFaultProfile;
  checkFaultProfile(profile);
  return profile;
}

const ok = (body: unknown = { ok: true }): ControlReply => ({ status: 200, body });

/** Adds the `/apns/...` routes for `sim` to `router` (a new one when omitted) and returns the router. */
export function addApnsControlRoutes(sim: ApnsSimulator, router = new ControlRouter()): ControlRouter {
  return router
    .add('GET', '/apns/info', () =>
      ok({
        url: sim.url,
        port: sim.port,
        environment: sim.environment,
        caPem: sim.caPem,
        nowMs: sim.now(),
        clockOffsetMs: sim.clockOffsetMs,
      }),
    )
    .add('POST', '/apns/reset', () => {
      sim.reset();
      return ok();
    })
    .add('GET', '/apns/counters', () => ok(sim.counters()))
    .add('GET', '/apns/receipts', ({ query }) => {
      const { since, limit } = receiptQuery(query);
      return ok(sim.receipts(since, limit));
    })
    .add('GET', '/apns/requests', ({ query }) => {
      const token = query.get('token');
      let list = sim.requests();
      if (token !== null) list = list.filter((request) => request.token === token);
      const limit = Number(query.get('limit') ?? list.length);
      return ok(limit >= list.length ? list : list.slice(list.length - limit));
    })
    .add('DELETE', '/apns/requests', () => {
      sim.clearRequests();
      return ok();
    })
    .add('GET', '/apns/keys', () => ok(sim.listKeys()))
    .add('POST', '/apns/keys', ({ body }) => {
      const input = record(body, 'key');
      const environment = optionalEnvironment(input.environment);
      sim.registerKey({
        keyId: requiredString(input, 'keyId'),
        teamId: requiredString(input, 'teamId'),
        publicKey: requiredString(input, 'publicKeyPem'),
        ...(environment === undefined ? {} : { environment }),
      });
      return { status: 201, body: { ok: true } };
    })
    .add('DELETE', '/apns/keys/:keyId', ({ params }) =>
      sim.removeKey(params.keyId ?? '') ? ok() : { status: 404, body: { error: 'no such key' } },
    )
    .add('GET', '/apns/tokens', () => ok(Object.fromEntries(sim.listTokens())))
    .add('GET', '/apns/tokens/:token', ({ params }) => {
      const entry = sim.getToken(params.token ?? '');
      return entry === undefined ? { status: 404, body: { error: 'no such token' } } : ok(entry);
    })
    .add('PUT', '/apns/tokens/:token', ({ params, body }) => {
      sim.setToken(params.token ?? '', tokenEntry(record(body, 'token'), sim.now()));
      return ok();
    })
    .add('DELETE', '/apns/tokens/:token', ({ params }) =>
      sim.removeToken(params.token ?? '') ? ok() : { status: 404, body: { error: 'no such token' } },
    )
    .add('GET', '/apns/topics/disallowed', () => ok(sim.listDisallowedTopics()))
    .add('PUT', '/apns/topics/disallowed/:topic', ({ params }) => {
      sim.disallowTopic(params.topic ?? '');
      return ok();
    })
    .add('DELETE', '/apns/topics/disallowed/:topic', ({ params }) => {
      sim.allowTopic(params.topic ?? '');
      return ok();
    })
    .add('GET', '/apns/faults', () => ok({ profile: sim.faults, queued: sim.queuedFaults }))
    .add('PUT', '/apns/faults', ({ body }) => {
      sim.setFaults(faultProfile(body));
      return ok({ profile: sim.faults });
    })
    .add('POST', '/apns/faults', ({ body }) => {
      sim.updateFaults(faultProfile(body));
      return ok({ profile: sim.faults });
    })
    .add('DELETE', '/apns/faults', () => {
      sim.setFaults({});
      return ok({ profile: sim.faults });
    })
    .add('POST', '/apns/faults/next', ({ body }) => {
      const input = record(body, 'faults/next');
      const count = input.count ?? 1;
      if (typeof count !== 'number') throw new Error('count must be a number');
      if (!isInjectedFault(input.fault)) throw new Error('fault must be an APNs reason, "stall" or "reset"');
      sim.injectNext(count, input.fault);
      return ok({ queued: sim.queuedFaults });
    })
    .add('POST', '/apns/goaway', ({ body }) => {
      const reason = body === undefined ? 'Shutdown' : record(body, 'goaway').reason;
      if (reason !== undefined && typeof reason !== 'string') throw new Error('reason must be a string');
      return ok({ connections: sim.goAway(reason ?? 'Shutdown') });
    })
    .add('POST', '/apns/clock', ({ body }) => {
      const advanceMs = record(body, 'clock').advanceMs;
      if (typeof advanceMs !== 'number' || !Number.isFinite(advanceMs)) {
        throw new Error('advanceMs must be a number');
      }
      sim.advanceClock(advanceMs);
      return ok({ nowMs: sim.now(), clockOffsetMs: sim.clockOffsetMs });
    });
}
