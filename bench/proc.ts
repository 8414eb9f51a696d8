/**
 * What the bench reads about processes from Linux's /proc: CPU time, resident memory, and which
 * PostgreSQL server processes work for a given database. Elsewhere (no /proc) every reading is
 * null and the bench prints "n/a".
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** Clock ticks per second of /proc/PID/stat's times (100 on every common Linux). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far; null when it is gone (or no /proc). */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Seconds the process's main thread has spent runnable but waiting for a core (the run delay of
 * `/proc/PID/schedstat`); null when the process is gone. For Node that thread is the event loop.
 */
export function runDelaySeconds(pid: number): number | null {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return null;
  }
}

/** Resident set size in bytes (VmRSS); null when the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Bytes the process caused to be written to storage so far (`write_bytes` of /proc/PID/io: counted
 * as it dirties the page cache, so the same work counts the same whatever the disk does); null
 * when the process is gone.
 */
export function diskWriteBytes(pid: number): number | null {
  try {
    const m = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** PIDs of processes whose command line satisfies `match`. */
export function findProcesses(match: (cmd: string) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    if (match(cmdline(e))) pids.push(Number(e));
  }
  return pids;
}

/**
 * PostgreSQL server processes on this machine that work for `database`: its backends (their
 * command line names the database: `postgres: user db host(port) state`) and the server-wide
 * WAL writer, checkpointer and background writer, which write what those backends commit (they
 * also serve any other database's load at the same time).
 */
export function postgresProcesses(database: string): { backends: number[]; shared: number[] } {
  const backends: number[] = [];
  const shared: number[] = [];
  for (const pid of findProcesses((cmd) => cmd.startsWith('postgres:'))) {
    const cmd = cmdline(String(pid));
    if (cmd.split(' ').includes(database)) backends.push(pid);
    else if (/: (walwriter|checkpointer|background writer)\s*$/.test(cmd)) shared.push(pid);
  }
  return { backends, shared };
}

/**
 * The whole machine's CPU time from /proc/stat's first line: busy (everything but idle and I/O
 * wait) and in all, in clock ticks over every core; null where there is no /proc.
 */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = t.reduce((a, b) => a + b, 0);
    // user nice system idle iowait irq softirq steal
    return { busy: total - t[3]! - t[4]!, total };
  } catch {
    return null;
  }
}

/**
 * How busy the whole machine's cores were between `start` and `stop` (every process, the load
 * client, the receiver and PostgreSQL included): on a machine the run shares with itself, a
 * latency tail with the cores nearly all busy is queueing for a core, not work.
 */
export class MachineCpu {
  #start: { busy: number; total: number } | null = null;

  start(): this {
    this.#start = machineTicks();
    return this;
  }

  /** The share of the cores' time that was busy since `start` (0 to 1), NaN without /proc. */
  stop(): number {
    const end = machineTicks();
    if (!this.#start || !end || end.total <= this.#start.total) return Number.NaN;
    return (end.busy - this.#start.busy) / (end.total - this.#start.total);
  }
}

/**
 * Bytes of write-ahead log PostgreSQL writes over a phase, from the server's insert position
 * before and after: the whole server's, so nothing else may write meanwhile (on this machine the
 * bench is all that runs). Rows and index entries written show here exactly, where CPU time moves
 * with whatever else the machine does.
 */
export class WalMeter {
  private readonly client: pg.Client;
  private readonly from: string;

  private constructor(client: pg.Client, from: string) {
    this.client = client;
    this.from = from;
  }

  static async start(databaseUrl: string): Promise<WalMeter> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return new WalMeter(client, String(rows[0].lsn));
  }

  /** The bytes written since `start`; closes the connection. */
  async stop(): Promise<number> {
    try {
      const { rows } = await this.client.query(
        'SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn) AS n',
        [this.from],
      );
      return Number(rows[0].n);
    } finally {
      await this.client.end();
    }
  }
}

/**
 * CPU seconds used by groups of processes over a phase (or, with `read = runDelaySeconds`, the
 * seconds their main threads waited for a core). `groups` names the PIDs of each group; it is
 * asked again at every sample (every `intervalMs`), so a process born during the phase counts in
 * full and one that ends counts up to its last sample.
 */
export class CpuMeter {
  readonly #groups: () => Record<string, number[]>;
  readonly #intervalMs: number;
  readonly #read: (pid: number) => number | null;
  /** Per group, per PID: the CPU seconds at the start (0 for a PID born later) and at the last sample. */
  #seen = new Map<string, Map<number, { base: number; last: number }>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    groups: () => Record<string, number[]>,
    intervalMs = 500,
    read: (pid: number) => number | null = cpuSeconds,
  ) {
    this.#groups = groups;
    this.#intervalMs = intervalMs;
    this.#read = read;
  }

  #sample(first: boolean) {
    for (const [name, pids] of Object.entries(this.#groups())) {
      let seen = this.#seen.get(name);
      if (!seen) {
        seen = new Map();
        this.#seen.set(name, seen);
      }
      for (const pid of pids) {
        const cpu = this.#read(pid);
        if (cpu === null) continue;
        const s = seen.get(pid);
        if (s) s.last = cpu;
        else seen.set(pid, { base: first ? cpu : 0, last: cpu });
      }
    }
  }

  start(): this {
    this.#seen = new Map();
    this.#sample(true);
    this.#timer = setInterval(() => this.#sample(false), this.#intervalMs);
    this.#timer.unref();
    return this;
  }

  /** Stops sampling; CPU seconds per group (NaN for a group none of whose processes could be read). */
  stop(): Record<string, number> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#sample(false);
    const out: Record<string, number> = {};
    for (const [name, seen] of this.#seen) {
      out[name] =
        seen.size === 0 ? Number.NaN : [...seen.values()].reduce((sum, s) => sum + (s.last - s.base), 0);
    }
    return out;
  }
}

/** Samples the RSS of some processes every `intervalMs` and keeps each one's largest. */
export class RssSampler {
  readonly #pids: Record<string, number>;
  readonly #max = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;

  constructor(pids: Record<string, number>, intervalMs = 250) {
    this.#pids = pids;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
    this.#timer.unref();
  }

  #sample() {
    for (const [name, pid] of Object.entries(this.#pids)) {
      const rss = rssBytes(pid);
      if (rss !== null) this.#max.set(name, Math.max(rss, this.#max.get(name) ?? 0));
    }
  }

  /** Stops; the largest RSS seen per process name, in bytes (NaN when never readable). */
  stop(): Record<string, number> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#sample();
    return Object.fromEntries(Object.keys(this.#pids).map((n) => [n, this.#max.get(n) ?? Number.NaN]));
  }
}
