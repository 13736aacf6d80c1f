/**
 * The two factories of @parse/node-apn 8 that HPNS builds on and that its index.d.ts does not describe:
 * `lib/config.js` and `lib/client.js`. node-apn's own `index.js` wires them the same way (dependency injection
 * of logger, credentials and the `http2` module). The shapes of what they build are in node-apn-client.ts.
 * Checked against 8.1.0 (reference/apns-fcm.md §4).
 */

declare module '@parse/node-apn/lib/config' {
  type ConfigFunction = (options: Record<string, unknown>) => Record<string, unknown>;
  const configFactory: (dependencies: {
    logger: ((message: unknown) => void) & { enabled: boolean };
    prepareCertificate: (config: Record<string, unknown>) => Record<string, unknown>;
    prepareToken: (token: unknown) => unknown;
    prepareCA: (config: Record<string, unknown>) => { ca: string[] | undefined };
  }) => ConfigFunction;
  export = configFactory;
}

declare module '@parse/node-apn/lib/client' {
  import { type connect, type constants } from 'node:http2';

  const clientFactory: (dependencies: {
    logger: ((message: unknown) => void) & { enabled: boolean };
    errorLogger?: ((message: unknown) => void) & { enabled: boolean };
    config: (options: Record<string, unknown>) => Record<string, unknown>;
    http2: { constants: typeof constants; connect: typeof connect };
  }) => new (options: Record<string, unknown>) => unknown;
  export = clientFactory;
}
