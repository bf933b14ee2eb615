import { patched, workflowInfo } from '@temporalio/workflow';

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
 * The changes the first shape asks for in its first workflow task: a new run asks for
 * `validate-input`, a continued one for `build-wait-timeout`. Only code from before both
 * (f0a7c61, 2026-11-29) made histories with no marker at all; the unmarked shape came five days later.
 */
const FIRST_SHAPE_FIRST_TASK: Change[] = ['validate-input', 'build-wait-timeout'];
/** Every run of the unmarked shape started after this; every marker-less history of the first shape before. */
const UNMARKED_SINCE_MS = Date.parse('2026-12-04T12:00:00Z');

/**
 * Which shape of the lifecycle a history was made by. A run started now records one marker,
 * `prompt-create-lifecycle` (with Temporal's change-version search attribute, two history
 * events): it has every change before it, the boot told by the cloud's status watcher, the quick
 * steps (input check, token check, image) in one local activity, what operators see written in
 * one upsert of what changed, before it waits and before every point where the master's signals
 * decide what comes next (see `LifecycleState.publishBeforeSignalsDecide`), each delete tried
 * first in the workflow task that decides it (`deleteLaunchedServer`), and the first create
 * tried first in the run's first workflow task (`createServer` in launch.ts).
 *
 * A replay tells the earlier shapes by their markers, as `patched()` does: with
 * `prompt-delete-lifecycle`, the same but every create an activity; with
 * `steady-lifecycle`, that but every delete an activity too; with `lean-watched-lifecycle`, that
 * but written only where it waits; with `lean-lifecycle`, every change but the watcher's (which
 * has its own marker) and the quick steps as three local activities; with none of them, each
 * change as its own marker says. A history with no marker at all is the first shape's, or the
 * unmarked shape's when it began after the first shape was gone.
 *
 * The unmarked shape (new runs from 69f0118 to 4dc0661, 2026-12-04 and 05) recorded no marker, and a wait
 * that ended in the master's release left its timer for the run's end to drop. Whether a wait's
 * timer was started depends on how the signals were grouped: a worker process that rebuilds a
 * lifecycle to answer a query applies a waiting signal on its own and keeps that state for the
 * task, which applies the later signals apart from it. The attach wait then began unready and
 * started its timer, which the release left, where a replay, applying the task's signals at once,
 * found it ready and made no timer (found by the chaos suite). Cancelled within the workflow task
 * that started it, a timer writes nothing, so the shapes that cancel every timer make the same
 * commands however the signals were grouped; leaving one does not. Its histories replay as they
 * ran, the few that met that split excepted.
 *
 * The next change to what running lifecycles do is asked with a new `patched()` id first, above
 * `prompt-create-lifecycle`.
 */
/** What one shape of the lifecycle does differently from the first; every field false is the first shape. */
interface ShapeTraits {
  lean: boolean;
  /** The quick steps in one local activity, every change on without a marker of its own. */
  watched: boolean;
  /** What changed is written before the signals decide, so the commands are the same however they were grouped. */
  steady: boolean;
  /** The delete first tried in the workflow task that decides it (a local activity), the activity only when that falls short. */
  promptDelete: boolean;
  /** No marker; a wait that ends in a release leaves its timer. */
  unmarked: boolean;
  /** The first create first tried in the run's first workflow task (a local activity), the activity only when that falls short. */
  promptCreate: boolean;
}

const FIRST: ShapeTraits = { lean: false, watched: false, steady: false, promptDelete: false, unmarked: false, promptCreate: false };
const LEAN: ShapeTraits = { ...FIRST, lean: true };
const LEAN_WATCHED: ShapeTraits = { ...LEAN, watched: true };
const STEADY: ShapeTraits = { ...LEAN_WATCHED, steady: true };
const PROMPT_DELETE: ShapeTraits = { ...STEADY, promptDelete: true };
const UNMARKED: ShapeTraits = { ...PROMPT_DELETE, unmarked: true };
const PROMPT_CREATE: ShapeTraits = { ...PROMPT_DELETE, promptCreate: true };

export class LifecycleShape implements Readonly<ShapeTraits> {
  readonly lean: boolean;
  readonly watched: boolean;
  readonly steady: boolean;
  readonly promptDelete: boolean;
  readonly unmarked: boolean;
  readonly promptCreate: boolean;

  private constructor(traits: ShapeTraits) {
    ({ lean: this.lean, watched: this.watched, steady: this.steady, promptDelete: this.promptDelete, unmarked: this.unmarked, promptCreate: this.promptCreate } = traits);
  }

  /** Asked once, before the lifecycle's first command. */
  static ofThisRun(): LifecycleShape {
    // A run that is not being replayed records the marker: `patched()` is true for it.
    if (patched('prompt-create-lifecycle')) return new LifecycleShape(PROMPT_CREATE);
    if (patched('prompt-delete-lifecycle')) return new LifecycleShape(PROMPT_DELETE);
    if (patched('steady-lifecycle')) return new LifecycleShape(STEADY);
    if (patched('lean-watched-lifecycle')) return new LifecycleShape(LEAN_WATCHED);
    if (patched('lean-lifecycle')) return new LifecycleShape(LEAN);
    // While replaying, `patched()` only reads the history: these ask for no marker.
    const firstShape = FIRST_SHAPE_FIRST_TASK.some((change) => patched(change)) || workflowInfo().runStartTime.getTime() < UNMARKED_SINCE_MS;
    return new LifecycleShape(firstShape ? FIRST : UNMARKED);
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
