import { parseDuration } from '@fedmesh/shared';

/** Type URLs of the messages the translator embeds as `google.protobuf.Any`. */
export const AnyType = {
  HttpConnectionManager:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  Router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  Rbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  RoundRobin: 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  LeastRequest: 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest',
  Random: 'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random',
  Maglev: 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev',
  RingHash: 'type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
  WrrLocality: 'type.googleapis.com/envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality',
} as const;

/** `google.protobuf.Duration` as protobufjs takes it. */
export interface ProtoDuration {
  seconds: number;
  nanos: number;
}

/** `"2s"`, `"1m30s"`, `"250ms"` → Duration; the model already validated the text. */
export function protoDuration(text: string): ProtoDuration {
  const ms = parseDuration(text);
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** The ADS config source every dynamic reference uses: the same stream, API v3. */
export const ADS_CONFIG_SOURCE = Object.freeze({ ads: {}, resource_api_version: 'V3' });

export function u32(value: number): { value: number } {
  return { value };
}
