import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkProfile, DEFAULT_PROFILE, Fleet } from '../src/fleet';
import { profileFrom } from '../src/cli';

describe('fleet profiles', () => {
  test.each([
    [{ servrs: 3 }, 'profile field "servrs": unknown field'],
    [{ kinds: { mesage: 1 } }, 'profile field "kinds.mesage": unknown kind'],
    [
      { platforms: { 'apple_rn-v2': -1 } },
      'profile field "platforms.apple_rn-v2": the weight must be a number ≥ 0',
    ],
    [{ platforms: { 'apple_rn-v2': 0 } }, 'profile field "platforms": needs at least one weight > 0'],
    [{ regions: { US: 1 } }, 'profile field "regions.US": not a region name'],
    [{ deadTokens: 2 }, 'profile field "deadTokens": must be a share from 0 to 1'],
    [{ messageBytes: { min: 10, max: 5 } }, 'profile field "messageBytes": min is larger than max'],
    [{ messageBytes: { min: 10, mx: 5 } }, 'profile field "messageBytes.mx": unknown field'],
    [{ servers: 1.5 }, 'profile field "servers": must be a whole number'],
    [[], 'profile field "(top level)": must be a JSON object'],
  ])('%j is refused naming the field', (input, message) => {
    expect(() => checkProfile(input)).toThrow(message);
  });

  test('a profile file with a mistake is refused with the file and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hpns-profile-'));
    writeFileSync(join(dir, 'bad.json'), '{"kinds": {"message": 1}, "deadTokens": "many"}');
    writeFileSync(join(dir, 'broken.json'), '{"kinds": ');
    expect(() => profileFrom({ profile: join(dir, 'bad.json') })).toThrow('profile field "deadTokens"');
    expect(() => profileFrom({ profile: join(dir, 'broken.json') })).toThrow(/not valid JSON/);
    expect(() => profileFrom({ profile: join(dir, 'missing.json') })).toThrow(/cannot read/);
    expect(profileFrom({ kinds: 'clear=1', regions: 'none=1' })).toMatchObject({
      kinds: { clear: 1 },
      regions: { none: 1 },
    });
  });

  test('the mix follows the weights, ack ids carry the serial, test pushes have none', () => {
    const fleet = new Fleet(checkProfile({ ...DEFAULT_PROFILE, deadTokens: 0.1 }), 'abcdefgh');
    const kinds = new Map<string, number>();
    let dead = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const push = fleet.next();
      kinds.set(push.kind, (kinds.get(push.kind) ?? 0) + 1);
      if (push.dead) {
        dead += 1;
        expect(JSON.parse(push.body).device_id).toMatch(/^deaddead/);
      }
      const body = JSON.parse(push.body) as Record<string, unknown>;
      expect(body.server_id).toHaveLength(26);
      if (push.kind === 'test') expect(body.ack_id).toBe('');
      else expect(fleet.serialOf(push.ackId)).toBe(i);
      expect(push.path).toMatch(/^\/(us|de)\/api\/v1\/send_push$/);
    }
    expect(kinds.get('message')! / 20_000).toBeCloseTo(0.7, 1);
    expect(dead / 20_000).toBeCloseTo(0.1, 1);
    expect(fleet.serialOf('zzzzzzzz000000000000000001')).toBeUndefined();
  });
});
