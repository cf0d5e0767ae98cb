/**
 * What a server can do beyond memcached 1.6.18, by version (docs/meta-protocol.md). 1.6.18 refuses
 * some of these flags with CLIENT_ERROR (which costs the connection) and silently ignores others
 * (`mg C` still sends the value, `ms MA N` still answers NS), so a request that needs one is only
 * sent once `version` has said the server has it.
 */

/** The features of one server. */
export interface ServerFeatures {
  /** The version the server reported (`"1.6.18"`). */
  readonly version: string;
  /** `ms … MA|MP N<ttl>`: append and prepend create a missing item (1.6.20). */
  readonly appendVivify: boolean;
  /** `ms … s`: a store returns the item's size (1.6.21; 1.6.20 could mix it up with `c`). */
  readonly storeReturnsSize: boolean;
  /** `me` prints `exp=` as the remaining TTL (1.6.24; before, it printed it negated). */
  readonly debugExpPositive: boolean;
  /** `E<cas>`: a write sets the item's new CAS to the client's value (1.6.27). */
  readonly explicitCas: boolean;
  /** `md … x`: empty the value but keep the item (1.6.27). */
  readonly deleteKeepsItem: boolean;
  /** `mg … C<cas>`: no value when the item's CAS still matches (1.6.40). */
  readonly conditionalGet: boolean;
}

/** A feature that can be present or not, i.e. the keys of {@link ServerFeatures} besides `version`. */
export type FeatureName = Exclude<keyof ServerFeatures, 'version'>;

/** The first version with each feature. */
export const FEATURE_SINCE: Readonly<Record<FeatureName, string>> = Object.freeze({
  appendVivify: '1.6.20',
  storeReturnsSize: '1.6.21',
  debugExpPositive: '1.6.24',
  explicitCas: '1.6.27',
  deleteKeepsItem: '1.6.27',
  conditionalGet: '1.6.40',
});

/** `"1.6.21"` → `[1, 6, 21]`; anything that does not start with three numbers → `undefined`. */
function parse(version: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m === null ? undefined : [Number(m[1]), Number(m[2]), Number(m[3])];
}

function atLeast(have: [number, number, number] | undefined, since: string): boolean {
  if (have === undefined) return false;
  const want = parse(since)!;
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

/** The features of a server that reports `version`. An unparseable version has none. */
export function featuresOf(version: string): ServerFeatures {
  const have = parse(version);
  const out: Record<string, unknown> = { version };
  for (const [name, since] of Object.entries(FEATURE_SINCE)) out[name] = atLeast(have, since);
  return Object.freeze(out) as unknown as ServerFeatures;
}

/**
 * Each server's features, by address: probed once with `version` (concurrent callers share the
 * probe; a failed probe is asked again next time), refreshed whenever `version` answers, and
 * forgotten when a server refuses a gated request (it may have been downgraded).
 */
export class FeatureCache {
  readonly #byServer = new Map<string, Promise<ServerFeatures>>();

  /** `server`'s features, asking `probe` for its version unless they are known or being asked. */
  get(server: string, probe: () => Promise<string>): Promise<ServerFeatures> {
    let features = this.#byServer.get(server);
    if (features === undefined) {
      const asked = probe().then(featuresOf);
      features = asked;
      this.#byServer.set(server, asked);
      asked.catch(() => {
        if (this.#byServer.get(server) === asked) this.#byServer.delete(server);
      });
    }
    return features;
  }

  /** What `version` just said. */
  record(server: string, version: string): void {
    this.#byServer.set(server, Promise.resolve(featuresOf(version)));
  }

  forget(server: string): void {
    this.#byServer.delete(server);
  }
}
