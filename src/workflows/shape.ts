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
 * Changes made after the watched shape. Each is asked only where a lifecycle first takes the path
 * it changes, so only the lifecycles that do write its marker.
 */
const ASKED_WHERE_TAKEN = new Set<Change>(['create-slot-wait-spends-no-attempt']);

/**
 * Which shape of the lifecycle a history was made by. Every patch marker costs a run two history
 * events (the marker and Temporal's change-version search attribute), so a lifecycle started now
 * records one marker, `lean-watched-lifecycle`: it has every earlier change, the boot told by the
 * cloud's status watcher included, writes what operators see once per workflow task, and does
 * the quick steps (input check, token check, image) in one local activity.
 *
 * A history without that marker was made by an earlier shape and replays as it ran: with
 * `lean-lifecycle`, every change but the watcher's (which has its own marker) and the quick steps
 * as three local activities; with neither, each change as its own marker says.
 */
export class LifecycleShape {
  private constructor(
    readonly lean: boolean,
    /** The quick steps in one local activity, every change on without a marker of its own. */
    readonly watched: boolean,
  ) {}

  /** Asked once, before the lifecycle's first command. */
  static ofThisRun(): LifecycleShape {
    if (patched('lean-watched-lifecycle')) return new LifecycleShape(true, true);
    return new LifecycleShape(patched('lean-lifecycle'), false);
  }

  has(change: Change): boolean {
    if (ASKED_WHERE_TAKEN.has(change)) return patched(change);
    if (this.watched) return true;
    // The lean shape came before the status watcher: its histories say with a marker whether they had it.
    if (change === 'boot-told-by-cloud-watcher') return patched(change);
    return this.lean || patched(change);
  }
}
