import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER, normalizeServer, resolveServer } from './target.js';

describe('cli server address', () => {
  it('cli - host:port, a bare host and URLs become one base URL; http:// is assumed', () => {
    expect(
      [
        '127.0.0.1:8080',
        'hub.example:80',
        'hub.example',
        '[::1]:8080',
        'http://hub:8080/',
        'HTTPS://hub.example/fedmesh/',
        ' 10.0.0.1:9000 ',
      ].map((v) => normalizeServer(v, '--server')),
    ).toEqual([
      'http://127.0.0.1:8080',
      'http://hub.example',
      'http://hub.example',
      'http://[::1]:8080',
      'http://hub:8080',
      'https://hub.example/fedmesh',
      'http://10.0.0.1:9000',
    ]);
  });

  it('cli - a value that is no address is refused, saying where it came from and what to give', () => {
    const cases: [string, RegExp][] = [
      ['', /^--server is empty: give http:\/\/HOST:PORT/],
      ['hub:http', /^--server "hub:http": the port must be a number, not "http"/],
      ['hub:99999', /^--server "hub:99999" is not a server address/],
      ['ftp://hub', /^--server "ftp:\/\/hub" uses ftp:\/\/; the hub's admin API is http:\/\/ or https:\/\//],
      ['http://user:pw@hub:1', /carries credentials.*--token or FEDMESH_TOKEN/],
      ['http://hub:1/?x=1', /carries a query or fragment/],
      ['http://hu b:1', /is not a server address/],
    ];
    for (const [value, message] of cases)
      expect(() => normalizeServer(value, '--server'), value).toThrow(message);
  });

  it('cli - --server beats FEDMESH_SERVER beats the default, and says which it was', () => {
    expect(resolveServer('a:1', 'b:2')).toEqual({ url: 'http://a:1', source: 'flag' });
    expect(resolveServer(undefined, 'b:2')).toEqual({ url: 'http://b:2', source: 'env' });
    expect(resolveServer(undefined, '')).toEqual({ url: DEFAULT_SERVER, source: 'default' });
    expect(() => resolveServer(undefined, 'b:x')).toThrow(/^FEDMESH_SERVER "b:x"/);
  });
});
