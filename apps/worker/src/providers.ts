import { type ProviderKind } from '@hpns/protocol';
import { ApnsProvider, FcmProvider, GoogleAccessTokenSource, type PushProvider } from '@hpns/providers';
import { type HpnsConfig, type Logger } from '@hpns/runtime';
import { type Registry } from 'prom-client';

/**
 * One provider per kind for the configured targets, aimed at Apple and Google unless the configuration names
 * other endpoints (the simulators: HPNS_APNS_URL, HPNS_FCM_URL, HPNS_OAUTH_TOKEN_URL, HPNS_PROVIDER_CA_FILE).
 */
export function createProviders(
  config: HpnsConfig,
  registry: Registry,
  logger: Logger,
): Partial<Record<ProviderKind, PushProvider>> {
  const providers: Partial<Record<ProviderKind, PushProvider>> = {};
  const { apnsUrl, fcmUrl, oauthTokenUrl, caPem } = config.providerEndpoints;
  if (config.apple.length > 0) {
    const apns = apnsUrl === undefined ? undefined : new URL(apnsUrl);
    providers.apns = new ApnsProvider({
      targets: config.apple,
      registry,
      requestTimeoutMs: config.retryTimeoutMs,
      ...(apns === undefined
        ? {}
        : {
            endpoints: Object.fromEntries(
              config.apple.map((target) => [
                target.type,
                {
                  address: apns.hostname,
                  port: Number(apns.port || 443),
                  ...(caPem === undefined ? {} : { caPem }),
                },
              ]),
            ),
          }),
    });
  }
  if (config.android.length > 0) {
    providers.fcm = new FcmProvider({
      targets: config.android,
      registry,
      requestTimeoutMs: config.retryTimeoutMs,
      ...(fcmUrl === undefined ? {} : { baseUrl: fcmUrl }),
      ...(caPem === undefined ? {} : { ca: caPem }),
      ...(oauthTokenUrl === undefined
        ? {}
        : {
            createTokenSource: (target) =>
              new GoogleAccessTokenSource({
                clientEmail: target.clientEmail,
                privateKeyPem: target.privateKey.reveal(),
                tokenUrl: oauthTokenUrl,
                ...(caPem === undefined ? {} : { ca: caPem }),
              }),
          }),
    });
  }
  if (apnsUrl !== undefined || fcmUrl !== undefined) {
    logger.warn(
      { event: 'providers.endpoint_override', apnsUrl, fcmUrl, oauthTokenUrl },
      'provider endpoints overridden (simulators or a test setup)',
    );
  }
  return providers;
}
