/**
 * Prometheus conventions both the hub and the agent follow: a cumulative figure is a counter
 * named `*_total`, a figure that goes up and down is a gauge not named so, and each process says
 * which build it runs in `fedmesh_build_info`.
 */
import { Counter, collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { BUILD } from './build.js';

/**
 * prom-client's process and Node.js metrics under `prefix`, less the three gauges it names
 * `*_total` (`nodejs_active_{handles,requests,resources}_total`): a gauge so named breaks the
 * convention (`promtool check metrics` says so), and each is only the sum of the gauge of the
 * same name without `_total`, which is labelled by type and stays.
 */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric;
    if (String(type) === 'gauge' && name.startsWith(prefix) && name.endsWith('_total')) {
      registry.removeSingleMetric(name);
    }
  }
}

/** Adds one series to a counter being collected: its value now and, when labelled, its labels. */
export type AddSeries<L extends string> = (value: number, labels?: Partial<Record<L, string>>) => void;

export interface ReadCounterOptions<L extends string> {
  name: `${string}_total`;
  help: string;
  labelNames?: readonly L[];
  registry: Registry;
  /** Called at every scrape: hands each series its current total (nothing, for none). */
  read(add: AddSeries<L>): void;
}

/**
 * A counter whose totals live elsewhere (the sync client's counters, an agent's report) and are
 * read at scrape time, so nothing is counted twice. prom-client's counters cannot be set; a reset
 * followed by one `inc` per series on collect sets them, and the exposition says `counter`, so
 * `rate()` and `increase()` treat a drop (the source restarted) as a counter reset.
 */
export function readCounter<L extends string>(opts: ReadCounterOptions<L>): Counter<L> {
  return new Counter<L>({
    name: opts.name,
    help: opts.help,
    labelNames: opts.labelNames ?? [],
    registers: [opts.registry],
    collect() {
      this.reset();
      opts.read((value, labels) => {
        // A figure that is not a count (NaN, negative) would fail the whole scrape in `inc`.
        if (!Number.isFinite(value) || value < 0) return;
        if (labels) this.inc(labels as Partial<Record<L, string | number>>, value);
        else this.inc(value);
      });
    },
  });
}

/** `fedmesh_build_info{version} 1`: the build a process runs, joined onto its other series with `on()`. */
export function registerBuildInfo(registry: Registry): Gauge<'version'> {
  const info = new Gauge({
    name: 'fedmesh_build_info',
    help: 'Always 1; the version label is the software version this process runs',
    labelNames: ['version'],
    registers: [registry],
  });
  info.set({ version: BUILD.version }, 1);
  return info;
}
