/**
 * Reads a `.cpuprofile` written by `node --cpu-prof`: rewrites the machine's paths in it to paths
 * relative to the repository, and sums self time per function, overall and for memline's own code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfileFile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  /** Function name ("(anonymous)" when it has none). */
  name: string;
  /** Repository-relative file and 1-based line, or a node: / V8 pseudo location. */
  location: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  cell: string;
  /** The profile, relative to the repository. */
  file: string;
  /** Time sampled, and the part of it the thread was not idle; percentages are of the busy part. */
  totalMs: number;
  busyMs: number;
  top: HotFunction[];
  /** The hottest functions in lib/ and protocols/. */
  memline: HotFunction[];
  /** Self time per file of lib/ and protocols/, %. */
  memlineFiles: { file: string; selfPct: number }[];
}

/** Makes the profile at `path` name files relative to `root`, then summarizes it. */
export function summarizeProfile(root: string, path: string, file: string, cell: string): ProfileSummary {
  const rootUrl = pathToFileURL(root).href + '/';
  const text = readFileSync(path, 'utf8')
    .split(rootUrl)
    .join('')
    .split(root + '/')
    .join('');
  writeFileSync(path, text);
  const profile = JSON.parse(text) as CpuProfileFile;

  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, { name: string; location: string; us: number; file: string }>();
  let totalUs = 0;
  for (const [id, us] of self) {
    totalUs += us;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    // tsx emits each module on one line, so line 1 says nothing: show the file alone.
    const location =
      frame.url === '' ? '' : frame.lineNumber > 0 ? `${frame.url}:${frame.lineNumber + 1}` : frame.url;
    const key = `${name}@${location}`;
    const entry = byFunction.get(key) ?? { name, location, us: 0, file: frame.url };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const idleUs = [...byFunction.values()].filter((e) => e.name === '(idle)').reduce((a, e) => a + e.us, 0);
  const busyUs = totalUs - idleUs;
  const ranked = [...byFunction.values()].filter((e) => e.name !== '(idle)').sort((a, b) => b.us - a.us);
  const hot = (e: { name: string; location: string; us: number }): HotFunction => ({
    name: e.name,
    location: e.location,
    selfMs: e.us / 1000,
    selfPct: busyUs > 0 ? (e.us / busyUs) * 100 : 0,
  });
  // `npm run bench` runs the built code: its files are under dist/.
  const ours = ranked.filter((e) => /^(dist\/)?(lib|protocols)\//.test(e.file));
  const files = new Map<string, number>();
  for (const e of ours) files.set(e.file, (files.get(e.file) ?? 0) + e.us);
  return {
    cell,
    file,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: ranked.slice(0, 15).map(hot),
    memline: ours.slice(0, 15).map(hot),
    memlineFiles: [...files]
      .sort((a, b) => b[1] - a[1])
      .map(([f, us]) => ({ file: f, selfPct: busyUs > 0 ? (us / busyUs) * 100 : 0 })),
  };
}
