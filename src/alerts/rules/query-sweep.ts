// query-sweep: one principal's C-FIND / QIDO-RS answers cover more distinct patients than the threshold within the window.

import type { RuleFactory } from '../rule.js';
import { SlidingWindow, uniqueMember } from '../sliding-window.js';

export const querySweep: RuleFactory = (settings, ctx) => {
  const patients = new SlidingWindow({
    rule: 'query-sweep', measure: 'patients', distinct: true, threshold: settings.threshold, windowMinutes: settings.windowMinutes,
    describe: (who, n) => `${who}'s queries returned ${n} distinct patients within ${settings.windowMinutes} min (threshold ${settings.threshold})`,
  }, ctx);
  return {
    name: 'query-sweep',
    outcome(o, at) {
      const isQuery = (o.kind === 'dicom' && o.command === 'C-FIND') || (o.kind === 'http' && o.service === 'qido-rs');
      if (!isQuery || (o.results ?? 0) === 0) return;
      const who = { principal: o.principal, source: o.source };
      if (o.patientIds !== undefined) patients.addMembers(o.principal, at, o.patientIds, who);
      // A match without a readable Patient ID counts as a patient of its own (an upper bound, never a blind spot).
      const unidentified = o.unidentified ?? 0;
      if (unidentified > 0) patients.addMembers(o.principal, at, Array.from({ length: unidentified }, uniqueMember), who);
    },
    flush: () => patients.flush(),
  };
};
