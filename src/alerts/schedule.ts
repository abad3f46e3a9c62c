// Role schedules for off-hours: weekly time ranges in one time zone, checked against the event's time.

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

interface Range { readonly days: ReadonlySet<number>; readonly from: number; readonly to: number }

/** "mon-fri 07:00-19:00" → the days it starts on and its minutes of the day; `to` ≤ `from` runs past midnight. */
export function parseRange(text: string): Range {
  const m = /^([a-z]{3})(?:-([a-z]{3}))? (\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(text);
  if (m === null) throw new TypeError(`not a schedule range: ${text}`);
  const first = DAYS.indexOf(m[1] as (typeof DAYS)[number]);
  const last = m[2] === undefined ? first : DAYS.indexOf(m[2] as (typeof DAYS)[number]);
  if (first < 0 || last < 0) throw new TypeError(`not a day in ${text}`);
  const days = new Set<number>();
  for (let d = first; ; d = (d + 1) % 7) {
    days.add(d);
    if (d === last) break;
  }
  return { days, from: Number(m[3]) * 60 + Number(m[4]), to: Number(m[5]) * 60 + Number(m[6]) };
}

export class Schedule {
  readonly #roles: ReadonlyMap<string, readonly Range[]>;
  readonly #format: Intl.DateTimeFormat;
  #minute = Number.NaN;
  #local = { day: 0, minute: 0 };

  constructor(timeZone: string, roles: Readonly<Record<string, readonly string[]>>) {
    this.#roles = new Map(Object.entries(roles).map(([role, ranges]) => [role, ranges.map(parseRange)]));
    this.#format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  /** Whether any role has a schedule. */
  get empty(): boolean { return this.#roles.size === 0; }

  /** Weekday (0 = Sunday) and minute of the day at `at` in the schedule's time zone; computed once per minute. */
  #localTime(at: number): { day: number; minute: number } {
    const minute = Math.floor(at / 60_000);
    if (minute !== this.#minute) {
      let day = 0;
      let h = 0;
      let mm = 0;
      for (const p of this.#format.formatToParts(new Date(at))) {
        if (p.type === 'weekday') day = DAYS.indexOf(p.value.toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
        else if (p.type === 'hour') h = Number(p.value);
        else if (p.type === 'minute') mm = Number(p.value);
      }
      this.#minute = minute;
      this.#local = { day, minute: h * 60 + mm };
    }
    return this.#local;
  }

  /** True when `role` has a schedule and `at` is outside all its ranges; false within them or without a schedule. */
  outside(role: string, at: number): boolean {
    const ranges = this.#roles.get(role);
    if (ranges === undefined) return false;
    const { day, minute } = this.#localTime(at);
    const yesterday = (day + 6) % 7;
    for (const r of ranges) {
      if (r.to > r.from) {
        if (r.days.has(day) && minute >= r.from && minute < r.to) return false;
      } else {
        // Past midnight: the evening part on a listed day, the morning part on the day after one.
        if (r.days.has(day) && minute >= r.from) return false;
        if (r.days.has(yesterday) && minute < r.to) return false;
      }
    }
    return true;
  }
}
