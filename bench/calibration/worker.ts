// A bare Temporal worker process for the benchmark's calibration: the same SDK and Node.js as
// `latent-worker worker`, running a workflow that only calls no-op activities.
//   node --import tsx bench/calibration/worker.ts ADDRESS TASK_QUEUE
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from './activities.js';

const [address, taskQueue] = process.argv.slice(2);
if (!address || !taskQueue) {
  console.error('usage: worker.ts ADDRESS TASK_QUEUE');
  process.exit(2);
}
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection,
  taskQueue,
  workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
  activities,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => worker.shutdown());
console.log('calibration worker polling');
await worker.run();
await connection.close();
