// The part of @js-joda/core that tedious's date, datetime, datetime2 and datetimeoffset types use
// to encode parameter values, delegating to the real js-joda, which is loaded only on first use.
// tedious computes an epoch date when those modules load (LocalDate.ofYearDay(...)); evaluating
// all of js-joda for that costs ~10 ms on every run, while a check never sends a date parameter.
'use strict';

module.exports = function lazyJsJoda(load) {
  let real;
  const joda = () => (real ??= load());
  /** A LocalDate.ofYearDay(year, day) that is only made when used. */
  class DeferredDate {
    constructor(args) {
      this.args = args;
    }
    until(end, unit) {
      return joda().LocalDate.ofYearDay(...this.args).until(end, unit);
    }
  }
  return {
    LocalDate: {
      of: (...args) => joda().LocalDate.of(...args),
      ofYearDay: (...args) => new DeferredDate(args),
    },
    ChronoUnit: {
      get DAYS() {
        return joda().ChronoUnit.DAYS;
      },
    },
  };
};
