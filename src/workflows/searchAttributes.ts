import { defineSearchAttributeKey } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../contract/names.js';

// Operators find lifecycles in the Web UI by these. They are never encrypted by a payload codec,
// so nothing secret may ever be written to them.
export const workerNameKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.workerName, 'KEYWORD');
export const phaseKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.phase, 'KEYWORD');
export const serverIdKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.serverId, 'KEYWORD');
export const cloudKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.cloud, 'KEYWORD');
/** How the lifecycle ended (released, missing, failed, cancelled), written when it reaches done. */
export const outcomeKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.outcome, 'KEYWORD');
/** The config's deployment id, set at start by a client that knows it (the same one its servers carry). */
export const deploymentKey = defineSearchAttributeKey(SEARCH_ATTRIBUTES.deployment, 'KEYWORD');

export const searchAttributeKeys = [workerNameKey, phaseKey, serverIdKey, cloudKey, outcomeKey, deploymentKey] as const;
