import { describe, expect, it } from 'vitest';
import { parseByteRate, parseByteSize, parseDuration, QuantityError } from './quantity.js';

describe('quantity', () => {
  it.each([
    [1024, 1024],
    ['1024', 1024],
    ['256KiB/s', 256 * 1024],
    ['1MiB/s', 1024 * 1024],
    ['2Mbit/s', 250_000],
    ['500kbit/s', 62_500],
    ['100KB/s', 100_000],
    ['1.5MB/s', 1_500_000],
    ['8bit/s', 1],
    ['10Mbps', 1_250_000],
    ['2 MiB/s', 2 * 1024 * 1024],
    ['100B/s', 100],
  ])('quantity - parses the byte rate %s', (input, expected) => {
    expect(parseByteRate(input)).toBe(expected);
  });

  it.each([
    ['', /invalid byte rate/],
    ['abc', /invalid byte rate/],
    ['-1KiB/s', /invalid byte rate/],
    ['1KiB', /needs "\/s"/],
    ['5XB/s', /unknown unit "XB"/],
    ['1e3', /invalid byte rate/],
    [Number.NaN, /finite/],
    [-5, /finite/],
    ['9'.repeat(40), /too large/],
    ['1'.repeat(300), /invalid byte rate/],
  ])('quantity - rejects the byte rate %s', (input, message) => {
    expect(() => parseByteRate(input as string)).toThrow(QuantityError);
    expect(() => parseByteRate(input as string)).toThrow(message);
  });

  it.each([
    ['64KiB', 65_536],
    ['1MB', 1_000_000],
    ['512', 512],
    [4096, 4096],
    ['1.5KiB', 1536],
    ['2Mi', 2 * 1024 * 1024],
  ])('quantity - parses the byte size %s', (input, expected) => {
    expect(parseByteSize(input)).toBe(expected);
  });

  it.each([['64KiB/s'], ['0.5B'], ['1Mbit'], ['lots'], [1.5]])(
    'quantity - rejects the byte size %s',
    (input) => {
      expect(() => parseByteSize(input)).toThrow(QuantityError);
    },
  );

  it.each([
    ['100ms', 100],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1h2m3s4ms', 3_723_004],
    ['0', 0],
  ])('quantity - parses the duration %s', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each([
    ['', /invalid duration/],
    ['10', /missing unit/],
    ['5x', /invalid duration/],
    ['-1s', /invalid duration/],
    ['1s ', /invalid duration/],
    ['s', /invalid duration/],
  ])('quantity - rejects the duration %j', (input, message) => {
    expect(() => parseDuration(input)).toThrow(message);
  });
});
