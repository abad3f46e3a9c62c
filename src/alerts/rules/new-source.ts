// new-source: a principal appears from a network (IPv4 /24, IPv6 /64) not seen for it within the window (default 30 days).

import type { RuleFactory } from '../rule.js';
import { networkOf } from '../network.js';

/** A principal and network checked against the store within this long is not checked again (per replica). */
const RECHECK_MS = 3_600_000;
const MAX_LOCAL = 10_000;
/** Networks remembered per principal. */
const MAX_NETWORKS = 256;

export const newSource: RuleFactory = (settings, ctx) => {
  const horizonMs = settings.windowMinutes * 60_000;
  /** "principal|network" → when last checked here. */
  const checked = new Map<string, number>();
  // Most events come from an address seen a moment ago: its network is remembered.
  let lastAddress = '';
  let lastNetwork = '';
  // …and so is the principal last checked: the same principal and address again need no key and no lookup.
  let lastPrincipal = '';
  let lastChecked = Number.NaN;
  let pending = new Map<string, { principal: string; network: string; source: string; at: number }>();
  return {
    name: 'new-source',
    event(e, at) {
      if (e.decision !== 'allow' || e.principal === undefined || e.source === undefined) return;
      if (e.event !== 'authz.http' && e.event !== 'dicom.association' && e.event !== 'auth.login') return;
      if (e.source === lastAddress && e.principal === lastPrincipal && at - lastChecked < RECHECK_MS && at >= lastChecked) return;
      if (e.source !== lastAddress) { lastAddress = e.source; lastNetwork = networkOf(e.source); }
      lastPrincipal = e.principal;
      const network = lastNetwork;
      const key = `${e.principal}|${network}`;
      const last = checked.get(key);
      if (last !== undefined && at - last < RECHECK_MS && at >= last) { lastChecked = last; return; }
      if (checked.size >= MAX_LOCAL) checked.clear();
      checked.set(key, at);
      lastChecked = at;
      if (pending.size < MAX_LOCAL) pending.set(key, { principal: e.principal, network, source: e.source, at });
      else ctx.dropped('new-source');
    },
    async flush() {
      if (pending.size === 0) return;
      const batch = pending;
      pending = new Map();
      await Promise.all([...batch.values()].map(async (p) => {
        const mark = await ctx.store.markSeen(`alert:seen:${p.principal}`, p.network, p.at, horizonMs, MAX_NETWORKS);
        // A principal's first network is learnt, not alerted: an alert needs `threshold` networks already known.
        if (mark.previous !== null || mark.others < Math.max(1, settings.threshold)) return;
        const iso = new Date(p.at).toISOString();
        await ctx.fire({
          rule: 'new-source', subject: `${p.principal} from ${p.network}`, principal: p.principal, source: p.source, network: p.network,
          measure: 'networks', count: mark.others + 1, threshold: settings.threshold, windowMinutes: settings.windowMinutes,
          firstEvent: iso, lastEvent: iso, knownNetworks: mark.others,
          message: `${p.principal} appeared from ${p.network}, not seen for them in the last ${Math.round(settings.windowMinutes / 1440)} days (${mark.others} other networks known)`,
        }, p.at, horizonMs);
      }));
    },
  };
};
