// Temporal loads a failure converter by path: the worker with Node's require() (for activity
// failures) and the workflow bundler (for workflow failures). So this file is plain CommonJS
// with no TypeScript syntax: Node loads it unchanged from src/ (an unknown extension loads as
// CommonJS), and tsc emits it as dist/codec/failureConverter.cjs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DefaultFailureConverter } = require('@temporalio/common');

// Messages and stack traces go into an encoded payload, so the payload codec encrypts them too.
exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
