import { type Region } from '@hpns/protocol';

/** The two API endpoints of the push proxy. */
export type ApiEndpoint = 'send_push' | 'ack';

/**
 * Where a request is going: an API endpoint under some path prefix (the Mattermost server posts to
 * `<PushNotificationServer>/api/v1/send_push`, and that setting may hold a path, reference §8.1), possibly with
 * a region named by the prefix's last segment (`/de/api/v1/send_push`).
 */
export interface ApiRoute {
  endpoint: ApiEndpoint;
  /** The region the path names (`/de/api/v1/...`), or undefined. */
  pathRegion: string | undefined;
}

const SEND_PUSH = '/api/v1/send_push';
const ACK = '/api/v1/ack';

/** Matches the API endpoints under any prefix; anything else (including a trailing slash) is not the API. */
export function matchApiRoute(url: string): ApiRoute | undefined {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  let endpoint: ApiEndpoint;
  let prefix: string;
  if (path.endsWith(SEND_PUSH)) {
    endpoint = 'send_push';
    prefix = path.slice(0, -SEND_PUSH.length);
  } else if (path.endsWith(ACK)) {
    endpoint = 'ack';
    prefix = path.slice(0, -ACK.length);
  } else {
    return undefined;
  }
  if (prefix !== '' && !prefix.startsWith('/')) return undefined;
  const lastSlash = prefix.lastIndexOf('/');
  const segment = lastSlash < 0 ? '' : prefix.slice(lastSlash + 1);
  return { endpoint, pathRegion: segment === '' ? undefined : segment.toLowerCase() };
}

/** How the ingress picks a push's region (DESIGN.md "send_push, step by step" 2). */
export interface RegionRoutingOptions {
  /** Regions this process holds a Redis for. */
  served: readonly Region[];
  /** Host (lower case, no port) → region, or `global` for hosts that route by the tenant's home region. */
  hosts?: Readonly<Record<string, string>>;
  /** Region for requests that name none (no host match, no path region). Default: the only served region. */
  defaultRegion?: Region;
  /**
   * Every region of the whole service (`us`, `de`, …), served here or not: a path segment with one of these
   * names routes to that region (and is refused when not served here) instead of counting as a mere prefix.
   * Default: the served regions and the regions of the host map.
   */
  knownRegions?: readonly string[];
}

export type RegionChoice =
  | { kind: 'region'; region: Region }
  /** The tenant's home region decides (a global endpoint). */
  | { kind: 'tenant' }
  /** A region was named but this process does not serve it, or none could be chosen. */
  | { kind: 'unserved'; named: string | undefined };

/** Chooses the region: path prefix first, then the Host map, then the default. */
export function chooseRegion(
  options: RegionRoutingOptions,
  host: string | undefined,
  route: ApiRoute,
): RegionChoice {
  const served = (name: string): RegionChoice =>
    options.served.includes(name as Region)
      ? { kind: 'region', region: name as Region }
      : { kind: 'unserved', named: name };
  if (route.pathRegion !== undefined && /^[a-z][a-z0-9]{1,15}$/.test(route.pathRegion)) {
    // A path segment that is a region name routes; other prefixes (a customer's own path) are just prefixes.
    const known = options.knownRegions ?? [...options.served, ...Object.values(options.hosts ?? {})];
    if (known.includes(route.pathRegion)) return served(route.pathRegion);
  }
  if (host !== undefined) {
    const name = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    const mapped = options.hosts?.[name];
    if (mapped === 'global') return { kind: 'tenant' };
    if (mapped !== undefined) return served(mapped);
  }
  const fallback = options.defaultRegion ?? (options.served.length === 1 ? options.served[0] : undefined);
  return fallback === undefined
    ? { kind: 'unserved', named: undefined }
    : { kind: 'region', region: fallback };
}
