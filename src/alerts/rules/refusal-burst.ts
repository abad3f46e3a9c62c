// refusal-burst: more refused commands / requests (403, 0x0124, A-ASSOCIATE-RJ, 401) than the threshold for one principal or address within the window.

import type { RuleFactory } from '../rule.js';
import { SlidingWindow } from '../sliding-window.js';

export const refusalBurst: RuleFactory = (settings, ctx) => {
  const w = settings.windowMinutes;
  const refusals = new SlidingWindow({
    rule: 'refusal-burst', measure: 'refusals', distinct: false, threshold: settings.threshold, windowMinutes: w,
    describe: (who, n) => `${n} refused requests or commands for ${who} within ${w} min (threshold ${settings.threshold})`,
  }, ctx);
  return {
    name: 'refusal-burst',
    event(e, at) {
      if (e.decision !== 'deny') return;
      // An association counts when it was answered with A-ASSOCIATE-RJ (not a client that went away).
      if (e.event === 'dicom.association' ? e['rejection'] === undefined : e.event !== 'authz.http' && e.event !== 'dicom.command') return;
      if (e.principal !== undefined) refusals.add(`principal ${e.principal}`, at, 1, { principal: e.principal, source: e.source });
      if (e.source !== undefined) refusals.add(`address ${e.source}`, at, 1, { source: e.source });
    },
    flush: () => refusals.flush(),
  };
};
