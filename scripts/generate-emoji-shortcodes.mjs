#!/usr/bin/env node
// Generates packages/protocol/src/emoji/shortcodes.json: the `:shortcode:` → emoji table HPNS uses to convert
// message text the way the Go push proxy does (it calls kyokomi/emoji, whose table is merged from GitHub's
// gemoji, Unicode CLDR short names and iamcal/emoji-data). We rebuild an equivalent table from maintained npm
// data packages, merged in the same order (a later source wins on a clash):
//   1. `gemoji` (wooorm/gemoji, GitHub's emoji names): every name of every emoji;
//   2. CLDR short names, taken from gemoji's `description`, cleaned as kyokomi cleans the Unicode chart
//      (`:` `,` `“` `”` `⊛` removed, spaces to `_`), e.g. `grinning face` → `grinning_face`;
//      CLDR also names every skin-tone variant (`thumbs up: medium skin tone`); those names are formed from the
//      base name and the tone names by CLDR's rule, for each variant emoji-datasource lists;
//   3. `emoji-datasource` (iamcal/emoji-data): each entry's `short_name`, pointing at the emoji named by
//      `obsoleted_by` where there is one.
// kyokomi also merges CodeFreezr/emojo, which has no npm package; its shortcodes are almost all gemoji names.
//
// Usage: node scripts/generate-emoji-shortcodes.mjs [--check]
//   --check  exit 1 if the committed table differs from what the installed packages produce.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gemoji } from 'gemoji';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'packages/protocol/src/emoji/shortcodes.json');

function fromUnified(unified) {
  return String.fromCodePoint(...unified.split('-').map((hex) => parseInt(hex, 16)));
}

function cldrShortcode(description) {
  return description
    .replace(/[:,“”⊛]/g, '')
    .trim()
    .replace(/ /g, '_');
}

const SKIN_TONES = {
  '1F3FB': 'light skin tone',
  '1F3FC': 'medium-light skin tone',
  '1F3FD': 'medium skin tone',
  '1F3FE': 'medium-dark skin tone',
  '1F3FF': 'dark skin tone',
};
const withoutVariationSelectors = (emoji) => emoji.replace(/\uFE0F/g, '');

const emojiData = require('emoji-datasource/emoji.json');
const table = new Map();
for (const entry of gemoji) for (const name of entry.names) table.set(name, entry.emoji);
const descriptionByEmoji = new Map();
for (const entry of gemoji) {
  descriptionByEmoji.set(withoutVariationSelectors(entry.emoji), entry.description);
  const name = cldrShortcode(entry.description);
  if (name !== '') table.set(name, entry.emoji);
}
for (const entry of emojiData) {
  const description = descriptionByEmoji.get(withoutVariationSelectors(fromUnified(entry.unified)));
  if (!description || !entry.skin_variations) continue;
  for (const [tones, variation] of Object.entries(entry.skin_variations)) {
    const toneNames = [...new Set(tones.split('-').map((tone) => SKIN_TONES[tone]))];
    if (toneNames.includes(undefined)) continue;
    table.set(cldrShortcode(`${description} ${toneNames.join(' ')}`), fromUnified(variation.unified));
  }
}
for (const entry of emojiData) {
  if (!entry.short_name || !entry.unified) continue;
  table.set(entry.short_name, fromUnified(entry.obsoleted_by || entry.unified).toLowerCase());
}

const sorted = Object.fromEntries([...table.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const text = `${JSON.stringify(sorted, null, 0).replace(/","/g, '",\n"')}\n`;

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== text) {
    console.error(`${target} is out of date: run npm run generate:emoji`);
    process.exit(1);
  }
  console.log(`emoji table up to date (${table.size} shortcodes)`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${table.size} shortcodes to ${target}`);
}
