import type proto from '@temporalio/proto';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/**
 * The steps a history ran, in order: each scheduled activity by its type, and each local activity
 * (recorded as a marker, not a task) as `local <type>`.
 */
export function stepsOf(events: HistoryEvent[]): string[] {
  return events.flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) return [scheduled];
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const data = marker.details?.data?.payloads?.[0]?.data;
    if (!data) throw new Error(`local activity marker ${String(event.eventId)} has no data`);
    const { activity_type: type } = JSON.parse(new TextDecoder().decode(data)) as { activity_type: string };
    return [`local ${type}`];
  });
}
