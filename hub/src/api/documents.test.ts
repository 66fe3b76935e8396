import { isFedmeshError } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { checkDepth, MAX_DEPTH, parseYamlBody } from './documents.js';

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(isFedmeshError(err, 'invalid'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('bounded documents', () => {
  it('documents - a YAML alias is refused, naming the document and the alias, cycle or not', () => {
    expect(refusal(() => parseYamlBody('a: &a [*a]'))).toMatch(
      /the YAML document.*\*a.*aliases are not accepted/,
    );
    expect(refusal(() => parseYamlBody('kind: Service\n---\nx: &p {a: 1}\ny: *p\n'))).toMatch(
      /YAML document 2.*\*p/,
    );
  });

  it('documents - YAML nested 100,000 deep is refused before it is composed (the composer would run out of memory)', () => {
    const depth = 100_000;
    expect(refusal(() => parseYamlBody(`a: ${'['.repeat(depth)}${']'.repeat(depth)}`))).toMatch(
      /nests deeper/,
    );
    let block = 'spec:\n';
    for (let i = 1; i <= MAX_DEPTH + 5; i++) block += `${' '.repeat(i)}a:\n`;
    expect(refusal(() => parseYamlBody(`${block}${' '.repeat(MAX_DEPTH + 6)}1\n`))).toMatch(/nests deeper/);
  });

  it('documents - manifests as deep as real ones parse; several documents become a list, empty ones are left out', () => {
    expect(parseYamlBody('a: [[[1]]]\nb: {c: {d: "[[[["}}')).toEqual({ a: [[[1]]], b: { c: { d: '[[[[' } } });
    expect(parseYamlBody('a: 1\n---\n---\nb: 2\n')).toEqual([{ a: 1 }, { b: 2 }]);
    expect(refusal(() => parseYamlBody('a: [unclosed'))).toMatch(/malformed YAML.*line 1/);
    expect(refusal(() => parseYamlBody('? [a, b]\n: c\n'))).toMatch(/list or a map as a key/);
  });

  it('documents - JSON values deeper than the limit are refused with the path, without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    expect(refusal(() => checkDepth({ spec: deep }, 'the JSON document'))).toMatch(
      /the JSON document: spec\.a\.a.*nests deeper than 64 levels/,
    );
    let ok: unknown = 1;
    for (let i = 0; i < MAX_DEPTH - 1; i++) ok = [ok];
    expect(() => checkDepth(ok)).not.toThrow();
  });
});
