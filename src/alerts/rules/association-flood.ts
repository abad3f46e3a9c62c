// association-flood: more TLS handshakes (every association starts with one; failed ones count), or connections to the
// cleartext legacy DICOM port, from one address than the threshold per window.

import type { RuleFactory } from '../rule.js';
import { SlidingWindow } from '../sliding-window.js';

export const associationFlood: RuleFactory = (settings, ctx) => {
  const w = settings.windowMinutes;
  const handshakes = new SlidingWindow({
    rule: 'association-flood', measure: 'handshakes', distinct: false, threshold: settings.threshold, windowMinutes: w,
    describe: (who, n) => `${n} TLS handshakes / legacy-port connections from ${who} within ${w} min (threshold ${settings.threshold})`,
  }, ctx);
  return {
    name: 'association-flood',
    outcome(o, at) {
      if (o.kind === 'tls' || o.kind === 'connection') handshakes.add(o.source, at, 1, { source: o.source });
    },
    flush: () => handshakes.flush(),
  };
};
