import { asciiLexemes, messageTokens, unicodeLexemes } from '../src/search/tokenizer';

/** Random ASCII text: letters of both cases, digits, punctuation, whitespace, long words. */
function randomAscii(random: () => number): string {
  const pieces = ['a', 'Z', 'q', '0', '9', ' ', '\t', '\n', '_', '-', "'", '"', '\\', '.', '@', '~', '\x7f', '\x01', 'Hello', 'WORLD42', 'x'.repeat(130)];
  let text = '';
  const length = Math.floor(random() * 40);
  for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
  return text;
}

describe('search tokenizer', () => {
  it('gives ASCII text the same lexemes, in the same order, on its fast path as on the general one', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5000; i++) {
      const text = randomAscii(random);
      expect([...asciiLexemes(text)]).toEqual([...unicodeLexemes(text)]);
    }
  });

  it('cuts words at 100 characters, lower-cases, and drops what is not a letter or digit', () => {
    expect(messageTokens(1, `Hello, hello_WORLD! ${'A'.repeat(120)} 42`, '{}')).toBe(`hello world ${'a'.repeat(100)} 42`);
    expect(messageTokens(1, '--- !!! ___', '{}')).toBeNull();
  });

  it('indexes CJK text as characters and pairs, and full-width letters as their plain form', () => {
    expect(messageTokens(1, '東京 ＡＢＣ', '{}')).toBe('東 東京 京 abc');
  });
});
