/**
 * HTTP dates (RFC 9110 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate),
 * and the two obsolete forms a recipient must still accept, RFC 850
 * (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
 *
 * Anything else is NaN, which callers treat as "in the past" where RFC 9111 5.3
 * says so (an Expires of `0`). Names are compared without regard to case, which
 * real servers get wrong more often than the grammar allows. `Date.parse` is not
 * used: it accepts far more (`2050-08-18`, two-digit years in IMF form) than the
 * RFC does.
 *
 * @module
 */

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const shortDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const longDays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

const imfFixdate = /^([a-z]{3}), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/;
const rfc850 = /^([a-z]{6,9}), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/;
const asctime = /^([a-z]{3}) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function build(year: number, monthName: string, day: number, hour: number, minute: number, second: number): number {
  const month = months.indexOf(monthName);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls 31 Feb over into March; such a date is invalid, not a different day.
  return new Date(ms).getUTCDate() === day ? ms : NaN;
}

/** Milliseconds since the epoch, or NaN when `value` is not an HTTP date. */
export function parseHttpDate(value: string): number {
  const text = value.trim().toLowerCase();
  let m = imfFixdate.exec(text);
  if (m) {
    if (!shortDays.includes(m[1]!)) return NaN;
    return build(Number(m[4]), m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  }
  m = rfc850.exec(text);
  if (m) {
    if (!longDays.includes(m[1]!)) return NaN;
    // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[4]);
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    return build(year, m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  }
  m = asctime.exec(text);
  if (m) {
    if (!shortDays.includes(m[1]!)) return NaN;
    return build(Number(m[7]), m[2]!, Number(m[3]!.trim()), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return NaN;
}
