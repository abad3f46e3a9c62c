// off-hours: access outside the hours set for the principal's role (alerts.schedule, in its time zone).

import type { RuleFactory } from '../rule.js';
import { Schedule } from '../schedule.js';
import { SlidingWindow } from '../sliding-window.js';

export function offHours(schedule: { timeZone: string; roles: Readonly<Record<string, readonly string[]>> }): RuleFactory {
  return (settings, ctx) => {
    const s = new Schedule(schedule.timeZone, schedule.roles);
    const w = settings.windowMinutes;
    const windowMs = w * 60_000;
    const accesses = new SlidingWindow({
      rule: 'off-hours', measure: 'accesses', distinct: false, threshold: settings.threshold, windowMinutes: w,
      describe: (who, n) => `${who} made ${n} accesses outside the hours of their role (${schedule.timeZone}) within ${w} min`,
    }, ctx);
    return {
      name: 'off-hours',
      event(e, at) {
        if (s.empty || e.decision !== 'allow' || e.principal === undefined || e.role === undefined) return;
        if (e.event !== 'authz.http' && e.event !== 'dicom.association' && e.event !== 'dicom.command') return;
        if (!s.outside(e.role, at)) return;
        // Once fired for this principal in this window period, further accesses need no counting.
        if (ctx.firedHere('off-hours', e.principal, at, windowMs)) return;
        accesses.add(e.principal, at, 1, { principal: e.principal, source: e.source });
      },
      flush: () => accesses.flush(),
    };
  };
}
