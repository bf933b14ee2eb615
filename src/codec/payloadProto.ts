import type { Payload } from '@temporalio/common';
import protobuf from 'protobufjs';

// temporal.api.common.v1.Payload on the wire, so that what we encrypt is the same bytes Temporal's
// own encryption samples encrypt (Go, Python, TypeScript): a master written in another language
// can implement this codec in a few lines. Built from protobufjs, a dependency of ours, rather
// than @temporalio/proto, which the project only has for its tests.
const PayloadMessage = new protobuf.Type('Payload')
  .add(new protobuf.MapField('metadata', 1, 'string', 'bytes'))
  .add(new protobuf.Field('data', 2, 'bytes'));
new protobuf.Root().define('temporal.api.common.v1').add(PayloadMessage);
PayloadMessage.root.resolveAll();

export function serializePayload(payload: Payload): Uint8Array {
  return PayloadMessage.encode(PayloadMessage.fromObject({ metadata: payload.metadata ?? {}, data: payload.data ?? new Uint8Array() })).finish();
}

export function parsePayload(bytes: Uint8Array): Payload {
  const message = PayloadMessage.decode(bytes) as unknown as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
  // protobufjs hands out Buffers; plain Uint8Arrays are what the SDK itself produces.
  const plain = (value: Uint8Array | undefined) => new Uint8Array(value ?? []);
  return { metadata: Object.fromEntries(Object.entries(message.metadata ?? {}).map(([key, value]) => [key, plain(value)])), data: plain(message.data) };
}
