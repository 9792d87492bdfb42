// scrub() and scrubDeep(): no password leaves the process, as it is or as JSON quotes it, in
// any string at any depth, for one password or for every target's at once (the daemon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrub, scrubDeep } from '../src/output.ts';

const rows: { name: string; text: string; password: string; want: string }[] = [
  { name: 'plain', text: 'login failed for pw S3cret!', password: 'S3cret!', want: 'login failed for pw ***' },
  { name: 'twice', text: 'S3cret! and S3cret!', password: 'S3cret!', want: '*** and ***' },
  { name: 'as JSON quotes it (a quote)', text: 'name "a\\"b" here', password: 'a"b', want: 'name "***" here' },
  { name: 'as JSON quotes it (a backslash)', text: 'x a\\\\b y', password: 'a\\b', want: 'x *** y' },
  { name: 'as JSON quotes it (a tab)', text: 'x p\\tq y', password: 'p\tq', want: 'x *** y' },
  { name: 'not there', text: 'nothing to hide', password: 'S3cret!', want: 'nothing to hide' },
  { name: 'no password', text: 'nothing to hide', password: '', want: 'nothing to hide' },
];
for (const r of rows) {
  test(`scrub: ${r.name}`, () => assert.equal(scrub(r.text, r.password), r.want));
}

test('scrubDeep: every string at every depth, every password, keys and other values kept', () => {
  const value = {
    reason: 'pw one-Pass and two-Pass',
    list: ['one-Pass', { deep: ['x two-Pass x'] }],
    n: 3, ok: true, none: null,
    ['__proto__']: 'one-Pass',
  };
  Object.defineProperty(value, '__proto__', { value: 'one-Pass', enumerable: true });
  const got = scrubDeep(value, ['one-Pass', 'two-Pass']) as Record<string, unknown>;
  assert.equal(JSON.stringify(got), '{"reason":"pw *** and ***","list":["***",{"deep":["x *** x"]}],"n":3,"ok":true,"none":null,"__proto__":"***"}');
  assert.equal(Object.getPrototypeOf(got), Object.prototype, 'a key "__proto__" stays a key, not a prototype');
  assert.equal(JSON.stringify(value).includes('one-Pass'), true, 'the value given is not changed');
  assert.deepEqual(scrubDeep(value, []), value);
  assert.equal(JSON.stringify(scrubDeep({ a: 'one-Pass' }, 'one-Pass')), '{"a":"***"}');
  assert.equal(JSON.stringify(scrubDeep({ a: 'one-Pass' }, undefined)), '{"a":"one-Pass"}');
});
