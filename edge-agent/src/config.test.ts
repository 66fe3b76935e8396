import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from './config.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = parseAgentArgs(['--region', 'eu-west', ...argv], env);
  if (r.help) throw new Error('help');
  return r.config;
};

describe('agent flags: discovery', () => {
  it('config - without --discovery only the registrations are on', () => {
    expect(parse([])).toMatchObject({ discovery: [], kubeNamespaces: [] });
  });

  it('config - --discovery kubernetes with its flags, or the same from the environment', () => {
    const flags = parse([
      '--discovery',
      'kubernetes',
      '--kubeconfig',
      '/etc/kube/config',
      '--kube-namespaces',
      'shop, tools,shop',
      '--kube-selector',
      'team in (payments,cart),!retired,tier!=batch',
    ]);
    expect(flags).toMatchObject({
      discovery: ['kubernetes'],
      kubeconfig: '/etc/kube/config',
      kubeNamespaces: ['shop', 'tools'],
      kubeSelector: 'team in (payments,cart),!retired,tier!=batch',
    });
    expect(
      parse([], {
        FEDMESH_DISCOVERY: 'registrations,kubernetes',
        FEDMESH_KUBECONFIG: '/k',
        FEDMESH_KUBE_NAMESPACES: 'shop',
        FEDMESH_KUBE_SELECTOR: 'app.kubernetes.io/part-of=shop',
      }),
    ).toMatchObject({ discovery: ['registrations', 'kubernetes'], kubeNamespaces: ['shop'] });
  });

  it('config - an unknown discovery source is refused, naming the ones there are', () => {
    expect(() => parse(['--discovery', 'kubernetes,consul'])).toThrow(
      '--discovery: unknown discovery source "consul"; the sources are kubernetes, registrations (registrations are always on)',
    );
  });

  it('config - a namespace that is no DNS label and a selector that does not parse are refused, naming the flag', () => {
    expect(() => parse(['--discovery', 'kubernetes', '--kube-namespaces', 'shop,Shop_2'])).toThrow(
      '--kube-namespaces: namespace "Shop_2" is not a DNS-1123 label',
    );
    for (const bad of ['team in (a,b', 'team=a,,tier=b', 'team==a b', 'team in ()', '=a'])
      expect(() => parse(['--discovery', 'kubernetes', '--kube-selector', bad]), bad).toThrow(
        /--kube-selector: not a label selector/,
      );
  });

  it('config - a Kubernetes flag without --discovery kubernetes is refused rather than ignored', () => {
    expect(() => parse(['--kube-namespaces', 'shop', '--kubeconfig', '/k'])).toThrow(
      '--kubeconfig: only applies with --discovery kubernetes; --kube-namespaces: only applies with --discovery kubernetes',
    );
  });
});
