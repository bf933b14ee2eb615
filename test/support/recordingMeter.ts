import type { MetricMeter, MetricTags } from '@temporalio/common';

/** A meter that hands each value any of its instruments is given to `onRecord`, with the metric's name and tags. */
export function recordingMeter(onRecord: (metric: string, value: number, tags: MetricTags) => void): MetricMeter {
  const instrument = (metric: string, base: MetricTags = {}): unknown => {
    const recordValue = (value: number, tags: MetricTags = {}) => onRecord(metric, value, { ...base, ...tags });
    return { add: recordValue, record: recordValue, set: recordValue, withTags: (tags: MetricTags) => instrument(metric, { ...base, ...tags }) };
  };
  const meter = { createCounter: instrument, createHistogram: instrument, createGauge: instrument, withTags: () => meter };
  return meter as unknown as MetricMeter;
}
