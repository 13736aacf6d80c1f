import { type ControlRouter } from '../control-server';
import {
  asObject,
  oneOf,
  optionalNumber,
  parseInjection,
  parseLatency,
  parseRates,
  stringField,
} from './control-input';
import { type ServiceAccountRegistration } from './oauth-assertion';
import { type OAuthFault, type OAuthSimulator } from './oauth-simulator';

/**
 * The OAuth simulator's control routes (reference/apns-fcm.md §7 "control API"), mirroring its programmatic API,
 * for a launcher to mount on its one ControlRouter:
 *
 * | route | does |
 * |---|---|
 * | `GET /oauth` | `{url, tokenUrl}` |
 * | `POST /oauth/accounts` | registers a service account: its key-file JSON, or `public_key` instead of `private_key` |
 * | `DELETE /oauth/accounts/:clientEmail` | unregisters it |
 * | `POST /oauth/faults` | `{fault: {kind}, count?}`: fail the next `count` requests |
 * | `PUT /oauth/faults/rates` | `{rates: [{kind, rate}]}`: random faults |
 * | `DELETE /oauth/faults` | no more faults |
 * | `PUT /oauth/config` | `{expiresInSeconds?, latency?: {p50Ms, p99Ms?}}` |
 * | `POST /oauth/tokens/:token/revoke` | revokes a minted token |
 * | `GET /oauth/counters` | OAuthCounters |
 * | `POST /oauth/reset` | back to the state after start |
 */

const OAUTH_FAULT_KINDS: readonly OAuthFault['kind'][] = ['unavailable', 'internal', 'stall'];

function parseOAuthFault(value: unknown): OAuthFault {
  return { kind: oneOf(asObject(value, 'fault').kind, OAUTH_FAULT_KINDS, 'fault.kind') };
}

/** A key-file JSON (snake_case) or the same fields in camelCase; the public key may come from `private_key`. */
export function parseServiceAccount(body: unknown): ServiceAccountRegistration {
  const object = asObject(body);
  const publicKey = stringField(object, 'public_key') ?? stringField(object, 'private_key');
  if (publicKey === undefined) throw new Error('public_key or private_key is required');
  const projectNumber = stringField(object, 'project_number');
  const privateKeyId = stringField(object, 'private_key_id');
  return {
    clientEmail: stringField(object, 'client_email', true),
    projectId: stringField(object, 'project_id', true),
    publicKey,
    ...(projectNumber !== undefined ? { projectNumber } : {}),
    ...(privateKeyId !== undefined ? { privateKeyId } : {}),
  };
}

const ok = { status: 200, body: { ok: true } };

/** Adds the `/oauth/...` routes for `simulator` to `router`. */
export function addOAuthControlRoutes(router: ControlRouter, simulator: OAuthSimulator): ControlRouter {
  return router
    .add('GET', '/oauth', () => ({ status: 200, body: { url: simulator.url, tokenUrl: simulator.tokenUrl } }))
    .add('POST', '/oauth/accounts', ({ body }) => {
      const account = parseServiceAccount(body);
      simulator.registerServiceAccount(account);
      return { status: 201, body: { clientEmail: account.clientEmail } };
    })
    .add('DELETE', '/oauth/accounts/:clientEmail', ({ params }) => ({
      status: 200,
      body: { removed: simulator.unregisterServiceAccount(params.clientEmail ?? '') },
    }))
    .add('POST', '/oauth/faults', ({ body }) => {
      const { fault, count } = parseInjection(body, parseOAuthFault);
      simulator.injectFault(fault, count);
      return ok;
    })
    .add('PUT', '/oauth/faults/rates', ({ body }) => {
      simulator.setFaultRates(parseRates(body, parseOAuthFault));
      return ok;
    })
    .add('DELETE', '/oauth/faults', () => {
      simulator.clearFaults();
      return ok;
    })
    .add('PUT', '/oauth/config', ({ body }) => {
      const object = asObject(body);
      const expiresInSeconds = optionalNumber(object, 'expiresInSeconds');
      const latency = object.latency === undefined ? undefined : parseLatency(object.latency);
      if (expiresInSeconds !== undefined) simulator.setExpiresIn(expiresInSeconds);
      if (latency !== undefined) simulator.setLatency(latency);
      return ok;
    })
    .add('POST', '/oauth/tokens/:token/revoke', ({ params }) => ({
      status: 200,
      body: { revoked: simulator.revoke(params.token ?? '') },
    }))
    .add('GET', '/oauth/counters', () => ({ status: 200, body: simulator.counters() }))
    .add('POST', '/oauth/reset', () => {
      simulator.reset();
      return ok;
    });
}
