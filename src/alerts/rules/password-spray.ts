// password-spray: one address fails logins for more distinct usernames than the threshold within the window.

import type { RuleFactory } from '../rule.js';
import { SlidingWindow } from '../sliding-window.js';

export const passwordSpray: RuleFactory = (settings, ctx) => {
  const w = settings.windowMinutes;
  const usernames = new SlidingWindow({
    rule: 'password-spray', measure: 'usernames', distinct: true, threshold: settings.threshold, windowMinutes: w,
    describe: (who, n) => `failed logins for ${n} distinct usernames from ${who} within ${w} min (threshold ${settings.threshold})`,
  }, ctx);
  return {
    name: 'password-spray',
    event(e, at) {
      if (e.event !== 'auth.login' || e.decision !== 'deny' || e.source === undefined || e.principal === undefined) return;
      usernames.addMembers(e.source, at, [e.principal], { source: e.source });
    },
    flush: () => usernames.flush(),
  };
};
