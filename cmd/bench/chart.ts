/**
 * The report's chart: one SVG, hand-written (no dependency). Each cell is a group of horizontal bars,
 * one per client, on the cell's own scale; the two ceilings are vertical lines across the group (solid:
 * the minimal raw socket, dashed: the raw socket with memline's flags), so every bar reads as a share of
 * what the machine can do.
 */
import { CEILINGS, CLIENTS } from './cells.js';
import { rate } from './stats.js';
import type { CellSummary } from './summary.js';

const WIDTH = 920;
const LEFT = 170; // client names
const BAR_AREA = 600;
const BAR = 14;
const GAP = 4;
const TITLE = 22;
const GROUP_GAP = 14;

const COLOURS: Record<string, string> = {
  memline: '#2b6cb0',
  'memline-coalesce': '#90cdf4',
  'memline-near': '#1a365d',
  'memline-signal': '#4299e1',
  'memline-baseline': '#a0aec0',
  memjs: '#9c4221',
  memcached: '#6b46c1',
  'memcache-client': '#2f855a',
  memcache: '#b7791f',
};

export function chart(cells: readonly CellSummary[]): string {
  const bars = CLIENTS.filter((c) => !CEILINGS.includes(c));
  const parts: string[] = [];
  let y = 40;
  for (const c of cells) {
    const shown = bars.filter((name) => c.clients.some((s) => s.name === name));
    const medians = c.clients.map((s) => s.median ?? 0);
    const max = Math.max(...medians, c.raw ?? 0, c.rawContract ?? 0);
    const x = (v: number): number => LEFT + (max > 0 ? (v / max) * BAR_AREA : 0);
    parts.push(text(8, y + 14, `${c.title} (${c.unit})`, 'bold'));
    const top = y + TITLE;
    shown.forEach((name, i) => {
      const s = c.clients.find((x) => x.name === name)!;
      const by = top + i * (BAR + GAP);
      parts.push(text(LEFT - 8, by + BAR - 3, name, 'end'));
      if (s.median === undefined) {
        parts.push(text(LEFT + 4, by + BAR - 3, s.status === 'skipped' ? 'n/a' : s.status, 'muted'));
        return;
      }
      const w = x(s.median) - LEFT;
      parts.push(
        `<rect x="${LEFT}" y="${by}" width="${w.toFixed(1)}" height="${BAR}" fill="${COLOURS[name] ?? '#718096'}"/>`,
      );
      const share = c.raw !== undefined ? ` (${((s.median / c.raw) * 100).toFixed(0)}% of raw)` : '';
      parts.push(text(LEFT + w + 4, by + BAR - 3, `${rate(s.median)}${share}`));
    });
    const bottom = top + Math.max(shown.length, 1) * (BAR + GAP);
    const ceiling = (v: number | undefined, dash: string, name: string): void => {
      if (v === undefined) return;
      const cx = x(v).toFixed(1);
      parts.push(
        `<line x1="${cx}" y1="${top - 4}" x2="${cx}" y2="${bottom}" stroke="#1a202c" stroke-width="1.5"${dash}>` +
          `<title>${esc(`${name}: ${rate(v)} ${c.unit}`)}</title></line>`,
      );
    };
    ceiling(c.raw, '', 'raw socket');
    ceiling(c.rawContract, ' stroke-dasharray="4 3"', "raw socket with memline's flags");
    y = bottom + GROUP_GAP;
  }
  const height = y + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    '<style>.bold{font-weight:bold}.end{text-anchor:end}.muted{fill:#718096}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(8, 20, 'memline benchmark: throughput per cell (each cell on its own scale)', 'bold'),
    ...parts,
    text(
      8,
      height - 10,
      "Solid line: raw socket (mg <key> v). Dashed line: raw socket with memline's flags (mg <key> v f c O<n>).",
      'muted',
    ),
    '</svg>',
    '',
  ].join('\n');
}

function text(x: number, y: number, body: string, cls?: string): string {
  return `<text x="${x}" y="${y}"${cls === undefined ? '' : ` class="${cls}"`}>${esc(body)}</text>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
