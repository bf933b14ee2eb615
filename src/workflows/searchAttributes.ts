import { defineSearchAttributeKey } from '@temporalio/common';

// Operators find lifecycles in the Web UI by these. They are never encrypted by a payload codec,
// so nothing secret may ever be written to them.
export const workerNameKey = defineSearchAttributeKey('LatentWorkerName', 'KEYWORD');
export const phaseKey = defineSearchAttributeKey('LatentWorkerPhase', 'KEYWORD');
export const serverIdKey = defineSearchAttributeKey('LatentWorkerServerId', 'KEYWORD');
export const cloudKey = defineSearchAttributeKey('LatentWorkerCloud', 'KEYWORD');

export const searchAttributeKeys = [workerNameKey, phaseKey, serverIdKey, cloudKey] as const;
