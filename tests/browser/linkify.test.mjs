// Splitting message text into text and https links (web-client/linkify.js):
// a pure function, run under Node without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitLinks } from '../../web-client/linkify.js';

const links = (text) => splitLinks(text).filter((p) => p.href).map((p) => p.href);
const joined = (text) => splitLinks(text).map((p) => p.text).join('');

test('an https URL in text becomes a link, the rest stays text', () => {
  assert.deepEqual(splitLinks('see https://example.com/a?b=1#c now'), [
    { text: 'see ' },
    { text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
    { text: ' now' },
  ]);
  assert.deepEqual(splitLinks('plain words'), [{ text: 'plain words' }]);
  assert.deepEqual(splitLinks(''), [{ text: '' }]);
  assert.deepEqual(links('https://a.example:8443/x and https://b.example'), ['https://a.example:8443/x', 'https://b.example/']);
});

test('sentence punctuation after a URL is not part of it', () => {
  assert.deepEqual(links('Read https://example.com/doc.'), ['https://example.com/doc']);
  assert.deepEqual(links('Read https://example.com/doc, then reply'), ['https://example.com/doc']);
  assert.deepEqual(links('(see https://example.com/doc)'), ['https://example.com/doc']);
  assert.deepEqual(links('https://en.wikipedia.org/wiki/Foo_(bar)'), ['https://en.wikipedia.org/wiki/Foo_(bar)']);
  assert.deepEqual(links('done?! https://example.com/x?!'), ['https://example.com/x']);
  assert.equal(joined('(see https://example.com/doc).'), '(see https://example.com/doc).');
});

test('only https links: javascript:, data:, http: and look-alikes stay text', () => {
  for (const text of [
    'javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,<script>alert(1)</script>',
    'http://example.com', 'ftp://example.com', 'https:/example.com', 'https://', 'https://localhost/x',
    'xhttps://example.com', 'https://user:pw@example.com/', 'https://.example.com', 'https://example..com',
    '//example.com', 'HTTPS://EXAMPLE.COM',
  ]) {
    assert.deepEqual(links(text), [], text);
    assert.equal(joined(text), text);
  }
});

test('markup around or inside a URL never becomes part of the link', () => {
  const text = 'https://x.y/"><script>alert(1)</script>';
  assert.deepEqual(splitLinks(text), [{ text: 'https://x.y/', href: 'https://x.y/' }, { text: '"><script>alert(1)</script>' }]);
  assert.deepEqual(links("https://x.y/a'onmouseover='alert(1)"), ['https://x.y/a']);
  assert.deepEqual(links('<a href="https://x.y/b">'), ['https://x.y/b']);
  assert.deepEqual(links('https://x.y/`whoami`'), ['https://x.y/']);
  for (const href of links('https://x.y/a b https://z.w/c\nd https://q.r/e\tf')) assert.doesNotMatch(href, /\s/);
});

test('unicode text and paths: shown as typed, the href percent-encoded', () => {
  const parts = splitLinks('café → https://example.com/straße?q=日本 ✓');
  assert.equal(parts.map((p) => p.text).join(''), 'café → https://example.com/straße?q=日本 ✓');
  const link = parts.find((p) => p.href);
  assert.equal(link.text, 'https://example.com/straße?q=日本');
  assert.equal(link.href, 'https://example.com/stra%C3%9Fe?q=%E6%97%A5%E6%9C%AC');
  // a host outside ASCII is not matched (no look-alike domains)
  assert.deepEqual(links('https://exаmple.com/'), []);
  assert.deepEqual(links('https://例え.jp/'), []);
});

test('very long and repetitive input is split without losing text', () => {
  const long = `https://example.com/${'a'.repeat(100000)}`;
  assert.deepEqual(links(long), [], 'a link over 2048 characters stays text');
  assert.equal(joined(long), long);
  const many = 'https://example.com/x '.repeat(5000);
  assert.equal(links(many).length, 5000);
  assert.equal(joined(many), many);
  const prefixes = 'https://'.repeat(20000);
  assert.deepEqual(links(prefixes), []);
  assert.equal(joined(prefixes), prefixes);
  const host = `https://${'a-'.repeat(50000)}`;
  assert.equal(joined(host), host);
});
