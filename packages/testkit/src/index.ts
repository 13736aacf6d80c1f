/**
 * @hpns/testkit: what tests share. Today it hosts the shared jest preset (`jest-preset.js`); the APNs, FCM and
 * OAuth simulators and the Redis test helpers land here as they are built.
 */
export const TESTKIT_PRESET = '@hpns/testkit';
