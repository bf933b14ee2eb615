import { patched } from '@temporalio/workflow';

/** Every change to what running lifecycles do, by the `patched()` id its histories record. */
export type Change =
  | 'validate-input'
  | 'create-survives-cancel'
  | 'unique-server-names'
  | 'build-wait-timeout'
  | 'continue-as-new'
  | 'delete-before-notify'
  | 'outcome-search-attribute'
  | 'boot-told-by-cloud-watcher'
  | 'create-slot-wait-spends-no-attempt';

/**
 * Changes made after the watched shape and before the steady one. Each is asked only where a
 * lifecycle of the watched shape first takes the path it changes, so only those that do write its marker.
 */
const ASKED_WHERE_TAKEN = new Set<Change>(['create-slot-wait-spends-no-attempt']);

/**
 * Which shape of the lifecycle a history was made by. Every patch marker costs a run two history
 * events (the marker and Temporal's change-version search attribute), so a lifecycle started now
 * records one marker, `prompt-delete-lifecycle`: it has every earlier change, the boot told by the
 * cloud's status watcher included, does the quick steps (input check, token check, image) in one
 * local activity, writes what operators see in one upsert of what changed, before it waits
 * and before every point where the master's signals decide what comes next, whether or not it
 * then waits (see `LifecycleState.publishBeforeSignalsDecide`), and tries each delete first in the
 * workflow task that decides it (`deleteLaunchedServer`).
 *
 * A history without that marker was made by an earlier shape and replays as it ran: with
 * `steady-lifecycle`, the same but every delete an activity; with
 * `lean-watched-lifecycle`, that but written only where it waits; with `lean-lifecycle`, every change
 * but the watcher's (which has its own marker) and the quick steps as three local activities;
 * with neither, each change as its own marker says.
 */
export class LifecycleShape {
  private constructor(
    readonly lean: boolean,
    /** The quick steps in one local activity, every change on without a marker of its own. */
    readonly watched: boolean,
    /** What changed is written before the signals decide, so the commands are the same however they were grouped. */
    readonly steady: boolean,
    /** The delete first tried in the workflow task that decides it (a local activity), the activity only when that falls short. */
    readonly promptDelete: boolean,
  ) {}

  /** Asked once, before the lifecycle's first command. */
  static ofThisRun(): LifecycleShape {
    if (patched('prompt-delete-lifecycle')) return new LifecycleShape(true, true, true, true);
    if (patched('steady-lifecycle')) return new LifecycleShape(true, true, true, false);
    if (patched('lean-watched-lifecycle')) return new LifecycleShape(true, true, false, false);
    return new LifecycleShape(patched('lean-lifecycle'), false, false, false);
  }

  has(change: Change): boolean {
    if (this.steady) return true;
    if (ASKED_WHERE_TAKEN.has(change)) return patched(change);
    if (this.watched) return true;
    // The lean shape came before the status watcher: its histories say with a marker whether they had it.
    if (change === 'boot-told-by-cloud-watcher') return patched(change);
    return this.lean || patched(change);
  }
}
