import { activityInfo } from '@temporalio/activity';
import { inputProblems } from '../contract/inputSchema.js';
import type { AuthenticateInput, AuthenticateResult } from './auth.js';
import type { ResolvedImage, ResolveImageInput } from './images.js';
import { isMasterChoice, type LifecycleInput, type WorkerRef } from '../workflows/types.js';

/** What the lifecycle learns before its first create: what is wrong with its input, or that the cloud is ready for it. */
export type Preparation = { problems: string[] } | { problems: []; session: AuthenticateResult; image?: ResolvedImage; scheduledAt?: number };

/** The token check and the image resolution as activities have them (a master-defined worker's account opened first). */
interface Steps {
  authenticate(input: AuthenticateInput): Promise<AuthenticateResult>;
  resolveImage(input: ResolveImageInput): Promise<ResolvedImage>;
}

/**
 * The quick steps before a create, in one local activity: the input check, the token check and
 * the image resolution (not an image the master chooses: that needs the master, later). One
 * marker in history instead of three; the Web UI names each step in the activity's summary, and
 * a step that fails says which it was in its own error.
 */
export function quickStepsActivity(steps: Steps) {
  return async function checkInputAuthenticateResolveImage(input: LifecycleInput): Promise<Preparation> {
    const problems = inputProblems(input);
    if (problems.length > 0) return { problems };
    const { spec } = input;
    const ref: WorkerRef = spec.sealedCredentials === undefined ? { workerName: spec.name } : { workerName: spec.name, sealedCredentials: spec.sealedCredentials };
    const session = await steps.authenticate(ref);
    // When the lifecycle asked for these steps, in this process's clock: in the run's first
    // workflow task, about when that task began, which bounds a create tried within it.
    const scheduledAt = activityInfo().scheduledTimestampMs;
    if (spec.image === undefined || isMasterChoice(spec.image)) return { problems: [], session, scheduledAt };
    return { problems: [], session, image: await steps.resolveImage({ ...ref, image: spec.image }), scheduledAt };
  };
}
