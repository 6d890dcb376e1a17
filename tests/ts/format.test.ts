import { describe, expect, it } from 'vitest';

import {
  duration,
  ranOn,
  seconds,
  secondsText,
  short,
  stateClass,
  stateColour,
  stateLabel,
  whenIn
} from '../../src/format';

describe('durations', () => {
  it('reads seconds between two times, or up to now while running', () => {
    expect(seconds('2024-01-01T00:00:00Z', '2024-01-01T00:00:02.5Z')).toBe(2.5);
    expect(seconds('2024-01-01T00:00:00Z', null, Date.parse('2024-01-01T00:01:00Z'))).toBe(60);
    expect(seconds(null, null)).toBeNull();
    // A clock that went back is no negative duration.
    expect(seconds('2024-01-01T00:00:10Z', '2024-01-01T00:00:00Z')).toBe(0);
  });

  it('says a duration as people read it', () => {
    expect(secondsText(null)).toBe('');
    expect(secondsText(4.24)).toBe('4.2 s');
    expect(secondsText(185)).toBe('3 min 5 s');
    expect(secondsText(2 * 3600 + 10 * 60)).toBe('2 h 10 min');
    expect(duration('2024-01-01T00:00:00Z', '2024-01-01T00:00:01Z')).toBe('1.0 s');
  });

  it('never shows 60 seconds or 60 minutes once rounded', () => {
    expect(secondsText(59.97)).toBe('1 min 0 s');
    expect(secondsText(119.6)).toBe('2 min 0 s');
    expect(secondsText(3599.7)).toBe('1 h 0 min');
  });
});

describe('states', () => {
  it('labels and colours a state by its name', () => {
    expect(stateLabel('upstream_failed')).toBe('upstream failed');
    expect(stateColour('success_with_failures')).toBe('nbflow-state-success-with-failures');
    expect(stateClass('failed')).toBe('nbflow-state nbflow-state-failed');
  });
});

describe('short', () => {
  it('shows a value as compact JSON, cut at the length given', () => {
    expect(short('a')).toBe('"a"');
    expect(short({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(short('x'.repeat(100), 10)).toBe('"xxxxxxxx…');
    expect(short(undefined)).toBe('undefined');
  });
});

describe('whenIn', () => {
  it('shows a time in the schedule\'s own zone, whatever the browser\'s', () => {
    const fire = '2024-01-15T05:30:00Z';
    expect(whenIn(fire, 'Asia/Tokyo', 'en-GB')).toBe('15 Jan 2024, 14:30 GMT+9');
    expect(whenIn(fire, 'America/New_York', 'en-GB')).toBe('15 Jan 2024, 00:30 GMT-5');
    expect(whenIn(fire, 'UTC', 'en-GB')).toBe('15 Jan 2024, 05:30 UTC');
    expect(whenIn(null, 'UTC')).toBe('');
  });

  it('falls back to the browser\'s zone for a zone it does not know', () => {
    expect(whenIn('2024-01-15T05:30:00Z', 'Mars/Base', 'en-GB')).toMatch(/^15 Jan 2024, \d\d:30/);
  });
});

describe('where an attempt ran', () => {
  it('names a Dask worker, this machine, or nothing for an older history', () => {
    expect(ranOn({ kind: 'dask', worker: 'tcp://10.0.0.7:40123' })).toBe('tcp://10.0.0.7:40123');
    expect(ranOn({ kind: 'dask', scheduler: 'tcp://s:8786' })).toBe('dask tcp://s:8786');
    expect(ranOn({ kind: 'local' })).toBe('this machine');
    expect(ranOn(null)).toBe('');
    expect(ranOn(undefined)).toBe('');
  });
});
