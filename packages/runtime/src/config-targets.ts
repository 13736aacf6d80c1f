import {
  readConfigFile,
  readEnvSetting,
  type ConfigEnv,
  type ConfigFiles,
  type ConfigIssues,
} from './config-env';
import {
  Secret,
  type AndroidTargetConfig,
  type AppleAuth,
  type AppleTargetConfig,
  type TargetConfig,
} from './config-types';
import { type AndroidProxySettings, type AppleProxySettings } from './proxy-config-file';

/** Google's OAuth token endpoint, used when a service-account file names none. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** Platform types become metric labels and queue names: keep them short and plain. */
const PLATFORM_TYPE = /^[a-z][a-z0-9_]{0,31}$/;
/** Apple key and team ids are 10 upper-case letters or digits. */
const APPLE_ID = /^[A-Z0-9]{10}$/;

/** The environment variable that may carry (or override) the certificate password of Apple target `type`. */
export function appleCertPasswordEnvName(type: string): string {
  return `HPNS_APPLE_CERT_PASSWORD_${type.toUpperCase()}`;
}

function checkType(issues: ConfigIssues, where: string, type: string, seen: Set<string>): boolean {
  if (!PLATFORM_TYPE.test(type)) {
    issues.problems.push(
      `${where}: Type must be lower-case letters, digits and "_" (1-32, starting with a letter), got ${JSON.stringify(type)}`,
    );
    return false;
  }
  if (seen.has(type)) {
    // The Go proxy silently lets a later entry win; two credentials for one type is always a mistake.
    issues.problems.push(`${where}: Type ${JSON.stringify(type)} is configured more than once`);
    return false;
  }
  seen.add(type);
  return true;
}

const noAppleAuth = (where: string) =>
  `${where}: needs AppleAuthKeyFile with AppleAuthKeyID and AppleTeamID (token auth) or ApplePushCertPrivate (certificate auth)`;

function appleAuth(
  entry: AppleProxySettings,
  where: string,
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
): AppleAuth | undefined {
  if (entry.AppleAuthKeyFile !== '') {
    if (entry.ApplePushCertPrivate !== '') {
      issues.warnings.push(
        `${where}: both AppleAuthKeyFile and ApplePushCertPrivate are set; the auth key is used`,
      );
    }
    let ok = true;
    if (!APPLE_ID.test(entry.AppleAuthKeyID)) {
      issues.problems.push(
        `${where}: AppleAuthKeyID must be the 10-character key id, got ${JSON.stringify(entry.AppleAuthKeyID)}`,
      );
      ok = false;
    }
    if (!APPLE_ID.test(entry.AppleTeamID)) {
      issues.problems.push(
        `${where}: AppleTeamID must be the 10-character team id, got ${JSON.stringify(entry.AppleTeamID)}`,
      );
      ok = false;
    }
    const pem = readConfigFile(files, issues, `${where}: AppleAuthKeyFile`, entry.AppleAuthKeyFile);
    if (pem !== undefined && !pem.includes('-----BEGIN PRIVATE KEY-----')) {
      issues.problems.push(
        `${where}: AppleAuthKeyFile ${JSON.stringify(entry.AppleAuthKeyFile)} holds no PKCS#8 private key (.p8)`,
      );
      ok = false;
    }
    if (!ok || pem === undefined) return undefined;
    return {
      kind: 'token',
      keyFile: entry.AppleAuthKeyFile,
      keyPem: new Secret(pem),
      keyId: entry.AppleAuthKeyID,
      teamId: entry.AppleTeamID,
    };
  }
  if (entry.ApplePushCertPrivate !== '') {
    const pem = readConfigFile(files, issues, `${where}: ApplePushCertPrivate`, entry.ApplePushCertPrivate);
    if (pem === undefined) return undefined;
    if (
      !pem.includes('CERTIFICATE-----') ||
      !/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem)
    ) {
      issues.problems.push(
        `${where}: ApplePushCertPrivate ${JSON.stringify(entry.ApplePushCertPrivate)} must hold a PEM certificate and its private key`,
      );
      return undefined;
    }
    const fromEnv = readEnvSetting(env, files, issues, appleCertPasswordEnvName(entry.Type));
    return {
      kind: 'certificate',
      certFile: entry.ApplePushCertPrivate,
      certPem: new Secret(pem),
      password: new Secret(fromEnv ?? entry.ApplePushCertPassword),
    };
  }
  issues.problems.push(noAppleAuth(where));
  return undefined;
}

/**
 * Validates the `ApplePushSettings` entries and reads their key or certificate files. Without `credentials`
 * (a process that never calls APNs) only the entries are checked: no key file is read, and no target with
 * credentials is returned; the types are added to `types` either way.
 */
export function appleTargets(
  entries: readonly AppleProxySettings[],
  seen: Set<string>,
  env: ConfigEnv,
  files: ConfigFiles,
  issues: ConfigIssues,
  types: TargetConfig[],
  credentials = true,
): AppleTargetConfig[] {
  const targets: AppleTargetConfig[] = [];
  entries.forEach((entry, index) => {
    const where = `ApplePushSettings[${index}]`;
    const typeOk = checkType(issues, where, entry.Type, seen);
    if (
      entry.AppleAuthKeyFile === '' &&
      entry.AppleAuthKeyID === '' &&
      entry.AppleTeamID === '' &&
      entry.ApplePushCertPrivate === ''
    ) {
      // No credential at all, as in the push proxy's own sample file: the Go proxy logs an error for the
      // entry and starts without it. So does HPNS, loudly; a credential given but broken is still refused.
      issues.warnings.push(
        `${where} (Type ${JSON.stringify(entry.Type)}) has no credentials (ApplePushCertPrivate or AppleAuthKeyFile): skipped; send_push for this type answers FAIL`,
      );
      return;
    }
    if (entry.ApplePushTopic === '')
      issues.problems.push(`${where}: ApplePushTopic (the app's bundle id) is required`);
    if (!credentials) {
      if (entry.AppleAuthKeyFile === '' && entry.ApplePushCertPrivate === '') {
        issues.problems.push(noAppleAuth(where));
      } else if (typeOk && entry.ApplePushTopic !== '') {
        types.push({ type: entry.Type, provider: 'apns' });
      }
      return;
    }
    const auth = appleAuth(entry, where, env, files, issues);
    if (typeOk && auth !== undefined && entry.ApplePushTopic !== '') {
      targets.push({
        type: entry.Type,
        topic: entry.ApplePushTopic,
        useDevelopment: entry.ApplePushUseDevelopment,
        auth,
      });
      types.push({ type: entry.Type, provider: 'apns' });
    }
  });
  return targets;
}

function serviceAccount(
  where: string,
  path: string,
  text: string,
  issues: ConfigIssues,
): Omit<AndroidTargetConfig, 'type' | 'serviceFile'> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The file holds a private key: say where it is wrong, never what it says.
    issues.problems.push(`${where}: ServiceFileLocation ${JSON.stringify(path)} is not valid JSON`);
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    issues.problems.push(`${where}: ServiceFileLocation ${JSON.stringify(path)} is not a JSON object`);
    return undefined;
  }
  const account = parsed as Record<string, unknown>;
  const missing = ['project_id', 'client_email', 'private_key'].filter(
    (key) => typeof account[key] !== 'string' || account[key] === '',
  );
  if (account['type'] !== 'service_account') missing.unshift('type "service_account"');
  if (missing.length > 0) {
    issues.problems.push(
      `${where}: service account file ${JSON.stringify(path)} lacks ${missing.join(', ')}`,
    );
    return undefined;
  }
  const tokenUri =
    typeof account['token_uri'] === 'string' && account['token_uri'] !== ''
      ? account['token_uri']
      : GOOGLE_TOKEN_URI;
  if (!/^https:\/\//.test(tokenUri)) {
    issues.problems.push(
      `${where}: service account token_uri must be an https URL, got ${JSON.stringify(tokenUri)}`,
    );
    return undefined;
  }
  return {
    projectId: account['project_id'] as string,
    clientEmail: account['client_email'] as string,
    privateKey: new Secret(account['private_key'] as string),
    tokenUri,
  };
}

/** Validates the `AndroidPushSettings` entries and reads their service-account files (see appleTargets). */
export function androidTargets(
  entries: readonly AndroidProxySettings[],
  seen: Set<string>,
  files: ConfigFiles,
  issues: ConfigIssues,
  types: TargetConfig[],
  credentials = true,
): AndroidTargetConfig[] {
  const targets: AndroidTargetConfig[] = [];
  entries.forEach((entry, index) => {
    const where = `AndroidPushSettings[${index}]`;
    const typeOk = checkType(issues, where, entry.Type, seen);
    if (entry.AndroidApiKey !== '') {
      issues.warnings.push(
        `${where}: AndroidApiKey is deprecated and ignored (FCM v1 uses the service account)`,
      );
    }
    if (entry.ServiceFileLocation === '') {
      // As for Apple entries without credentials: the Go proxy starts without it, and so does HPNS.
      issues.warnings.push(
        `${where} (Type ${JSON.stringify(entry.Type)}) has no ServiceFileLocation (the Google service-account JSON): skipped; send_push for this type answers FAIL`,
      );
      return;
    }
    if (!credentials) {
      if (typeOk) types.push({ type: entry.Type, provider: 'fcm' });
      return;
    }
    const text = readConfigFile(files, issues, `${where}: ServiceFileLocation`, entry.ServiceFileLocation);
    const account =
      text === undefined ? undefined : serviceAccount(where, entry.ServiceFileLocation, text, issues);
    if (typeOk && account !== undefined) {
      targets.push({ type: entry.Type, serviceFile: entry.ServiceFileLocation, ...account });
      types.push({ type: entry.Type, provider: 'fcm' });
    }
  });
  return targets;
}
