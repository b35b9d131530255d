/**
 * API versions by path prefix: `Deprecation` (RFC 9745), `Sunset` (RFC 8594), `Link`, and 410 after sunset.
 * @module
 */

import { refuse, type Stage, type StageEnv } from '../exchange.ts';
import type { Policy, VersionPolicy } from '../policy/types.ts';

export interface CompiledVersion {
  prefix: string[];
  headers: [string, string][];
  /** Epoch ms after which the version answers 410. */
  sunsetAt: number | undefined;
}

/** Compiles `policy.versions`, longest prefix first. */
export function compileVersions(versions: Readonly<Record<string, VersionPolicy>> = {}): CompiledVersion[] {
  return Object.entries(versions)
    .map(([prefix, version]) => {
      const headers: [string, string][] = [];
      if (version.deprecation !== undefined) {
        headers.push(['deprecation', `@${Math.floor(Date.parse(version.deprecation) / 1000)}`]);
      }
      const sunsetAt = version.sunset === undefined ? undefined : Date.parse(version.sunset);
      if (sunsetAt !== undefined) headers.push(['sunset', new Date(sunsetAt).toUTCString()]);
      if (version.link !== undefined) {
        headers.push(['link', `<${version.link}>; rel="${version.deprecation !== undefined ? 'deprecation' : 'sunset'}"`]);
      }
      return { prefix: prefix.split('/').filter(Boolean), headers, sunsetAt };
    })
    .sort((a, b) => b.prefix.length - a.prefix.length);
}

/** The version whose prefix the (normalized) path starts with, segment by segment. */
export function findVersion(versions: readonly CompiledVersion[], segments: readonly string[]) {
  return versions.find((version) => version.prefix.every((part, i) => segments[i] === part));
}

/** The versioning stage: deprecation headers on a deprecated version's answers, and 410 once its sunset has passed. */
export function versionStage(policy: Policy, env: Pick<StageEnv, 'now'>): Stage {
  const versions = compileVersions(policy.versions);
  return function version(x) {
    const found = versions.length ? findVersion(versions, x.segments!) : undefined;
    if (!found) return undefined;
    for (const [name, value] of found.headers) x.headers.set(name, value);
    if (found.sunsetAt !== undefined && env.now() >= found.sunsetAt) return refuse('version', 'version.sunset');
    x.trace.push({ stage: 'version', outcome: 'pass', detail: `/${found.prefix.join('/')}` });
    return undefined;
  };
}
