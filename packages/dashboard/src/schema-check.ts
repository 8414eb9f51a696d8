/**
 * A small JSON Schema check for the event type editor: does the example payload fit the schema?
 * It covers what event type schemas mostly use (type, required, properties, items, enum, const,
 * additionalProperties: false, minimum/maximum, minLength/maxLength) and ignores the rest; the
 * point is to catch a typo in the example before anyone sends it.
 */
type Schema = Record<string, unknown>;

const typeOf = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'integer'
          : 'number'
        : typeof v;

function fits(type: string, v: unknown): boolean {
  const t = typeOf(v);
  return t === type || (type === 'number' && t === 'integer');
}

/** Problems of `value` against `schema`, as `path: problem` lines; empty when it fits. */
export function checkAgainstSchema(schema: unknown, value: unknown, path = '$'): string[] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [];
  const s = schema as Schema;
  const out: string[] = [];
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [String(s.type)];
    if (!types.some((t) => fits(t, value))) {
      return [`${path}: should be ${types.join(' or ')}, is ${typeOf(value)}`];
    }
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    out.push(`${path}: should be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value))
    out.push(`${path}: should be ${JSON.stringify(s.const)}`);
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) out.push(`${path}: should be ≥ ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) out.push(`${path}: should be ≤ ${s.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength)
      out.push(`${path}: should have at least ${s.minLength} characters`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength)
      out.push(`${path}: should have at most ${s.maxLength} characters`);
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, unknown>;
    for (const r of Array.isArray(s.required) ? (s.required as string[]) : [])
      if (!(r in obj)) out.push(`${path}: ${r} is required`);
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) out.push(...checkAgainstSchema(props[k], v, `${path}.${k}`));
      else if (s.additionalProperties === false) out.push(`${path}: ${k} is not allowed`);
    }
  }
  if (Array.isArray(value) && s.items)
    for (const [i, v] of value.entries()) out.push(...checkAgainstSchema(s.items, v, `${path}[${i}]`));
  return out;
}
