// The part of @js-joda/core that tedious uses, and only that: its date, datetime, datetime2 and
// datetimeoffset types count days between two dates to encode a parameter value, with
// LocalDate.of, LocalDate.ofYearDay and LocalDate#until(date, ChronoUnit.DAYS). A check never
// sends a date parameter; this stands in for js-joda's ~465 KB so that the binary does not carry
// (and keep in memory) that source. Same proleptic Gregorian calendar; test/bundle.test.ts
// compares it with js-joda date by date.
'use strict';

const DAYS = Object.freeze({ name: 'Days' });

function fail(what) {
  throw new RangeError(`${what} (js-joda is not included in mssql-role-check; this date is invalid)`);
}

const isLeap = (y) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const monthLength = (y, m) => (m === 2 ? (isLeap(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31);
const YEAR_LIMIT = 999999999; // js-joda's Year.MIN_VALUE .. MAX_VALUE

/** Days from 1970-01-01 to y-m-d (H. Hinnant's days_from_civil). */
function epochDay(y, m, d) {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function checkYear(year) {
  if (!Number.isInteger(year) || Math.abs(year) > YEAR_LIMIT) fail(`invalid year ${year}`);
}

class LocalDate {
  constructor(day) {
    this.epochDay = day;
  }

  static of(year, month, day) {
    checkYear(year);
    if (!Number.isInteger(month) || month < 1 || month > 12) fail(`invalid month ${month}`);
    if (!Number.isInteger(day) || day < 1 || day > monthLength(year, month)) fail(`invalid date ${year}-${month}-${day}`);
    return new LocalDate(epochDay(year, month, day));
  }

  static ofYearDay(year, dayOfYear) {
    checkYear(year);
    if (!Number.isInteger(dayOfYear) || dayOfYear < 1 || dayOfYear > (isLeap(year) ? 366 : 365)) fail(`invalid day ${dayOfYear} of ${year}`);
    return new LocalDate(epochDay(year, 1, 1) + dayOfYear - 1);
  }

  until(end, unit) {
    if (!(end instanceof LocalDate) || unit !== DAYS) fail('only LocalDate#until(LocalDate, ChronoUnit.DAYS) is included');
    return end.epochDay - this.epochDay;
  }
}

module.exports = { LocalDate, ChronoUnit: { DAYS } };
