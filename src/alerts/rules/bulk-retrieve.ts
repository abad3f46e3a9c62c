// bulk-retrieve: one principal retrieves more instances (C-GET / C-MOVE sub-operations) or bytes (WADO) than the thresholds within the window.

import type { RuleFactory } from '../rule.js';
import { SlidingWindow } from '../sliding-window.js';

export const bulkRetrieve: RuleFactory = (settings, ctx) => {
  const w = settings.windowMinutes;
  const instances = new SlidingWindow({
    rule: 'bulk-retrieve', measure: 'instances', distinct: false, threshold: settings.threshold, windowMinutes: w,
    describe: (who, n) => `${who} retrieved ${n} instances (C-GET / C-MOVE) within ${w} min (threshold ${settings.threshold})`,
  }, ctx);
  const bytesLimit = settings.bytes ?? Number.MAX_SAFE_INTEGER;
  const bytes = new SlidingWindow({
    rule: 'bulk-retrieve', measure: 'bytes', distinct: false, threshold: bytesLimit, windowMinutes: w,
    describe: (who, n) => `${who} retrieved ${n} bytes (WADO) within ${w} min (threshold ${bytesLimit})`,
  }, ctx);
  return {
    name: 'bulk-retrieve',
    outcome(o, at) {
      if (o.kind === 'dicom') {
        if (o.command !== 'C-GET' && o.command !== 'C-MOVE') return;
        const n = (o.completed ?? 0) + (o.warning ?? 0);
        if (n > 0) instances.add(o.principal, at, n, { principal: o.principal, source: o.source });
      } else if (o.kind === 'http' && (o.service === 'wado-rs' || o.service === 'wado-uri') && o.bytes > 0) {
        bytes.add(o.principal, at, o.bytes, { principal: o.principal, source: o.source });
      }
    },
    flush: async () => { await Promise.all([instances.flush(), bytes.flush()]); },
  };
};
