import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `<dir>/push.json`: a mattermost-push-proxy.json with one Apple and one Android target whose key files do
 * not exist. The ingress reads the targets' types and never their keys, so it starts with it (as in the Helm
 * chart, which mounts no provider credentials into ingress pods). Returns the file's path.
 */
export function writeProxyConfigWithoutKeys(dir: string): string {
  const path = join(dir, 'push.json');
  writeFileSync(
    path,
    JSON.stringify({
      ApplePushSettings: [
        {
          Type: 'apple_rn',
          ApplePushTopic: 'com.mattermost.react.native',
          AppleAuthKeyFile: join(dir, 'absent', 'AuthKey.p8'),
          AppleAuthKeyID: 'ABCDE12345',
          AppleTeamID: 'FGHIJ67890',
        },
      ],
      AndroidPushSettings: [{ Type: 'android_rn', ServiceFileLocation: join(dir, 'absent', 'sa.json') }],
    }),
  );
  return path;
}
