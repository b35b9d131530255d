import { describe, expect, test } from 'vitest';
import { parseForwarded } from './forwarded.ts';

const elements = (value: string) => parseForwarded(value)?.map((element) => Object.fromEntries(element));

describe('parseForwarded', () => {
  // RFC 7239 §4, §5.2, §6.3, §7.1, §7.4.
  test.each([
    ['for="_gazonk"', [{ for: '_gazonk' }]],
    ['For="[2001:db8:cafe::17]:4711"', [{ for: '[2001:db8:cafe::17]:4711' }]],
    ['for=192.0.2.60;proto=http;by=203.0.113.43', [{ for: '192.0.2.60', proto: 'http', by: '203.0.113.43' }]],
    ['for=192.0.2.43, for=198.51.100.17', [{ for: '192.0.2.43' }, { for: '198.51.100.17' }]],
    ['for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown', [{ for: '192.0.2.43' }, { for: '[2001:db8:cafe::17]' }, { for: 'unknown' }]],
    ['for=192.0.2.43, for="[2001:db8:cafe::17]", for=unknown', [{ for: '192.0.2.43' }, { for: '[2001:db8:cafe::17]' }, { for: 'unknown' }]],
    ['for=_hidden, for=_SEVKISEK', [{ for: '_hidden' }, { for: '_SEVKISEK' }]],
    ['for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com', [{ for: '192.0.2.43' }, { for: '198.51.100.17', by: '203.0.113.60', proto: 'http', host: 'example.com' }]],
  ])('reads the RFC example %j', (value, expected) => {
    expect(elements(value)).toEqual(expected);
  });

  test.each([
    ['a comma inside quotes', 'for="a, b";proto=https, for=c', [{ for: 'a, b', proto: 'https' }, { for: 'c' }]],
    ['a semicolon and equals inside quotes', 'x="a;b=c";for=d', [{ x: 'a;b=c', for: 'd' }]],
    ['an escaped quote', 'x="a\\", for=evil";for=d', [{ x: 'a", for=evil', for: 'd' }]],
    ['an escaped backslash before the closing quote', 'x="a\\\\", for=d', [{ x: 'a\\' }, { for: 'd' }]],
    ['escaped ordinary characters', 'for="\\[2001:db8::1\\]"', [{ for: '[2001:db8::1]' }]],
    ['an empty quoted-string', 'x=""', [{ x: '' }]],
    ['tab and obs-text in quotes', 'x="a\tb\u00e9"', [{ x: 'a\tb\u00e9' }]],
    ['parameter names in any case', 'FOR=a;Proto=https', [{ for: 'a', proto: 'https' }]],
    ['white space around ; and ,', 'for=a ; proto=https ,\tfor=b', [{ for: 'a', proto: 'https' }, { for: 'b' }]],
    ['empty pairs and empty list elements', ';for=a;;, ,for=b,', [{ for: 'a' }, { for: 'b' }]],
    ['nothing at all', '', []],
  ])('reads %s', (_name, value, expected) => {
    expect(elements(value)).toEqual(expected);
  });

  test.each([
    ['an unterminated quote', 'for="192.0.2.43, for=198.51.100.17'],
    ['an escape at the end', 'for="a\\'],
    ['a control character in quotes', 'for="a\u0000b"'],
    ['a DEL in quotes', 'for="a\u007fb"'],
    ['a character beyond latin1 in quotes', 'for="a\u0100"'],
    ['a bracketed IPv6 without quotes', 'for=[2001:db8::1]'],
    ['an IPv4 and port without quotes', 'for=192.0.2.60:8080'],
    ['a parameter twice in one element', 'for=a;for=b'],
    ['a parameter twice in any case', 'for=a;FOR=b'],
    ['white space around =', 'for = a'],
    ['a pair without =', 'for'],
    ['an empty value', 'for='],
    ['an empty name', '=a'],
    ['text after a quoted value', 'for="a"b'],
    ['two values', 'for=a b'],
    ['a non-token name', 'f@r=a'],
  ])('refuses %s', (_name, value) => {
    expect(parseForwarded(value)).toBeUndefined();
  });
});
