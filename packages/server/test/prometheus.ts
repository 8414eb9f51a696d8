/**
 * Reading `/metrics` text in tests and the bench: labelled series by name and labels, whatever
 * order prom-client prints the labels in (the Prometheus parser the tests use drops a labelled
 * histogram's `_count` and `_sum`).
 */

/**
 * The sum of the samples named `name` (`hookline_claims_total`, `..._count`, `..._sum`) whose
 * labels include `labels`; null when there is none.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}
