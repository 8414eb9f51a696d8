/** The oldest Node.js Hookline runs on: undici 8 needs 22.19 (package.json `engines` says the same). */
export const MIN_NODE = '22.19.0';

/** Whether `version` (`process.versions.node`, "22.19.0") is at least MIN_NODE. */
export function supportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE.split('.').map(Number);
  return major > minMajor || (major === minMajor && minor >= minMinor);
}
