import { type ControlRouter } from '../control-server';
import {
  asObject,
  oneOf,
  optionalBoolean,
  optionalNumber,
  parseInjection,
  parseLatency,
  parseRates,
  stringField,
} from '../oauth/control-input';
import { receiptQuery } from '../receipt-log';
import { type FcmSimulator } from './fcm-simulator';
import { FCM_TOKEN_STATES, type FcmTokenRegistration, type UnknownTokenPolicy } from './fcm-tokens';
import { FCM_FAULT_KINDS, type FcmFault } from './fcm-types';

/**
 * The FCM simulator's control routes (reference/apns-fcm.md §7 "control API"), mirroring its programmatic API,
 * for a launcher to mount on its one ControlRouter:
 *
 * | route | does |
 * |---|---|
 * | `GET /fcm` | `{url}` |
 * | `POST /fcm/tokens` | `{token, projectId, state?}` or `{tokens: [...]}` |
 * | `DELETE /fcm/tokens/:token` | forgets a token |
 * | `PUT /fcm/config` | `{unknownTokens?: accept/unregistered/malformed, latency?: {p50Ms, p99Ms?}}` |
 * | `PUT /fcm/quota` | `{limitPerMinute?, retryAfter?, projectId?}` (no projectId: the default) |
 * | `POST /fcm/faults` | `{fault: {kind, retryAfterSeconds?}, count?}`: fail the next `count` sends |
 * | `PUT /fcm/faults/rates` | `{rates: [{kind, rate, retryAfterSeconds?}]}`: random faults |
 * | `DELETE /fcm/faults` | no more faults |
 * | `GET /fcm/counters` | FcmCounters |
 * | `GET /fcm/receipts?since=N&limit=M` | ReceiptPage: answered sends after seq N (token, ack_id, status) |
 * | `GET /fcm/requests?limit=N` | the last N captured requests (all by default), oldest first |
 * | `DELETE /fcm/requests` | forgets captured requests |
 * | `POST /fcm/reset` | back to the state after start |
 */

const UNKNOWN_TOKEN_POLICIES: readonly UnknownTokenPolicy[] = ['accept', 'unregistered', 'malformed'];

function parseFcmFault(value: unknown): FcmFault {
  const object = asObject(value, 'fault');
  const kind = oneOf(object.kind, FCM_FAULT_KINDS, 'fault.kind');
  const retryAfterSeconds = optionalNumber(object, 'retryAfterSeconds');
  if (kind === 'unavailable' || kind === 'overload') {
    return retryAfterSeconds === undefined ? { kind } : { kind, retryAfterSeconds };
  }
  return { kind };
}

function parseRegistration(value: unknown): FcmTokenRegistration {
  const object = asObject(value, 'token registration');
  const state = object.state === undefined ? 'valid' : oneOf(object.state, FCM_TOKEN_STATES, 'state');
  return {
    token: stringField(object, 'token', true),
    projectId: stringField(object, 'project_id', true),
    state,
  };
}

const ok = { status: 200, body: { ok: true } };

/** Adds the `/fcm/...` routes for `simulator` to `router`. */
export function addFcmControlRoutes(router: ControlRouter, simulator: FcmSimulator): ControlRouter {
  return router
    .add('GET', '/fcm', () => ({ status: 200, body: { url: simulator.url } }))
    .add('POST', '/fcm/tokens', ({ body }) => {
      const object = asObject(body);
      const list = Array.isArray(object.tokens)
        ? object.tokens.map(parseRegistration)
        : [parseRegistration(object)];
      for (const registration of list) simulator.registerToken(registration);
      return { status: 201, body: { registered: list.length } };
    })
    .add('DELETE', '/fcm/tokens/:token', ({ params }) => ({
      status: 200,
      body: { removed: simulator.unregisterToken(params.token ?? '') },
    }))
    .add('PUT', '/fcm/config', ({ body }) => {
      const object = asObject(body);
      const policy =
        object.unknownTokens === undefined
          ? undefined
          : oneOf(object.unknownTokens, UNKNOWN_TOKEN_POLICIES, 'unknownTokens');
      const latency = object.latency === undefined ? undefined : parseLatency(object.latency);
      if (policy !== undefined) simulator.setUnknownTokens(policy);
      if (latency !== undefined) simulator.setLatency(latency);
      return ok;
    })
    .add('PUT', '/fcm/quota', ({ body }) => {
      const object = asObject(body);
      const limitPerMinute = optionalNumber(object, 'limitPerMinute');
      const retryAfter = optionalBoolean(object, 'retryAfter');
      simulator.setQuota(
        {
          ...(limitPerMinute !== undefined ? { limitPerMinute } : {}),
          ...(retryAfter !== undefined ? { retryAfter } : {}),
        },
        stringField(object, 'project_id'),
      );
      return ok;
    })
    .add('POST', '/fcm/faults', ({ body }) => {
      const { fault, count } = parseInjection(body, parseFcmFault);
      simulator.injectFault(fault, count);
      return ok;
    })
    .add('PUT', '/fcm/faults/rates', ({ body }) => {
      simulator.setFaultRates(parseRates(body, parseFcmFault));
      return ok;
    })
    .add('DELETE', '/fcm/faults', () => {
      simulator.clearFaults();
      return ok;
    })
    .add('GET', '/fcm/counters', () => ({ status: 200, body: simulator.counters() }))
    .add('GET', '/fcm/receipts', ({ query }) => {
      const { since, limit } = receiptQuery(query);
      return { status: 200, body: simulator.receipts(since, limit) };
    })
    .add('GET', '/fcm/requests', ({ query }) => {
      const requests = simulator.requests();
      const limit = query.get('limit');
      const count = limit === null ? requests.length : Math.max(0, Math.floor(Number(limit)) || 0);
      return { status: 200, body: requests.slice(requests.length - Math.min(count, requests.length)) };
    })
    .add('DELETE', '/fcm/requests', () => {
      simulator.clearRequests();
      return ok;
    })
    .add('POST', '/fcm/reset', () => {
      simulator.reset();
      return ok;
    });
}
