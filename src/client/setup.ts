import { setTimeout as delay } from 'node:timers/promises';
import type { WorkflowService, OperatorService } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { msToTs } from '@temporalio/common/lib/time.js';
import { searchAttributeKeys } from '../workflows/searchAttributes.js';
import { grpcCode, innermostMessage } from './failures.js';

/** What `setup` needs of a connection; both the client's and the worker's have it. */
export interface ServiceConnection {
  workflowService: WorkflowService;
  operatorService: OperatorService;
}

/** The `temporal` CLI's (and tcld's) name for each search attribute type. */
export const cliTypeNames: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export type AttributeState = 'registered' | 'created' | 'missing' | 'wrong type';

export interface SetupReport {
  namespace: string;
  /** `created` only when this run registered it. */
  namespaceState: 'exists' | 'created' | 'missing';
  attributes: { name: string; type: string; state: AttributeState; registeredAs?: string }[];
  /** Commands a person with the rights must run, when this connection may not do it. */
  todo: string[];
  /** Why something could not be checked or done here, in Temporal's words. */
  problems: string[];
  /** Every lifecycle can start: namespace and attributes are there. */
  ready: boolean;
}

export interface SetupOptions {
  namespace: string;
  /** The service's address: Temporal Cloud's gets tcld commands instead of temporal's. */
  address: string;
  /** Create what is missing; otherwise only check. */
  apply: boolean;
  /** Retention of a namespace this creates. */
  retentionDays?: number;
}

// gRPC status codes that mean "you may not do this here" rather than "it went wrong".
const NOT_ALLOWED = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);
const NOT_FOUND = 5;

export function isTemporalCloud(address: string): boolean {
  return /\.tmprl\.cloud(:\d+)?$|(^|\.)api\.temporal\.io(:\d+)?$/.test(address);
}

/**
 * Makes sure the namespace exists and the search attributes the lifecycle writes are registered
 * on it: creates them through the operator API when `apply` and allowed, and otherwise says exactly
 * what to run. Running it again changes nothing.
 */
export async function ensureSetup(connection: ServiceConnection, options: SetupOptions): Promise<SetupReport> {
  const { namespace } = options;
  const report: SetupReport = { namespace, namespaceState: 'exists', attributes: [], todo: [], problems: [], ready: false };
  const cloud = isTemporalCloud(options.address);

  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (error) {
    if (grpcCode(error) !== NOT_FOUND) throw error;
    report.namespaceState = 'missing';
  }
  if (report.namespaceState === 'missing') {
    const retentionDays = options.retentionDays ?? 3;
    if (options.apply && !cloud) {
      try {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000) });
        report.namespaceState = 'created';
      } catch (error) {
        if (!NOT_ALLOWED.has(grpcCode(error) ?? -1)) throw error;
        report.problems.push(`cannot create namespace ${namespace}: ${innermostMessage(error)}`);
      }
    }
    if (report.namespaceState === 'missing') {
      report.todo.push(cloud ? `tcld namespace create --namespace ${namespace} --region <region> --retention-days ${retentionDays}` : `temporal operator namespace create --namespace ${namespace} --retention ${retentionDays * 24}h`);
      report.todo.push(...attributeCommands(searchAttributeKeys.map((key) => ({ name: key.name, type: cliTypeNames[key.type] })), namespace, cloud));
      return report;
    }
  }

  let registered: Record<string, number> | undefined;
  try {
    registered = await registeredAttributes(connection, namespace, report.namespaceState === 'created');
  } catch (error) {
    if (!NOT_ALLOWED.has(grpcCode(error) ?? -1)) throw error;
    report.problems.push(`cannot list the search attributes of ${namespace}: ${innermostMessage(error)}`);
  }
  for (const key of searchAttributeKeys) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type);
    const has = registered?.[key.name];
    const state: AttributeState = has === undefined ? 'missing' : has === wanted ? 'registered' : 'wrong type';
    report.attributes.push({ name: key.name, type: cliTypeNames[key.type], state, ...(state === 'wrong type' ? { registeredAs: String(has) } : {}) });
  }

  const missing = report.attributes.filter((attribute) => attribute.state === 'missing');
  if (missing.length > 0 && options.apply && registered !== undefined && !cloud) {
    try {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(searchAttributeKeys.filter((key) => missing.some((m) => m.name === key.name)).map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!])),
      });
      for (const attribute of missing) attribute.state = 'created';
    } catch (error) {
      if (!NOT_ALLOWED.has(grpcCode(error) ?? -1)) throw error;
      report.problems.push(`cannot register search attributes on ${namespace}: ${innermostMessage(error)}`);
    }
  }
  const stillMissing = report.attributes.filter((attribute) => attribute.state === 'missing');
  if (stillMissing.length > 0) report.todo.push(...attributeCommands(stillMissing, namespace, cloud));
  for (const attribute of report.attributes.filter((a) => a.state === 'wrong type')) {
    report.problems.push(`search attribute ${attribute.name} is registered on ${namespace} with another type; the lifecycle writes it as ${attribute.type}: remove it (temporal operator search-attribute remove --name ${attribute.name}) and run setup again`);
  }
  // A service that will not list them (a role without the right) may still have them: not knowing is not "missing".
  report.ready = registered === undefined || report.attributes.every((attribute) => attribute.state === 'registered' || attribute.state === 'created');
  return report;
}

/** One line: what is missing and what to run, or that all is in place. */
export function describeSetup(report: SetupReport): string {
  if (report.ready && report.problems.length > 0) return `namespace ${report.namespace} exists; its search attributes could not be checked (${report.problems.join('; ')})`;
  if (report.ready) return `namespace ${report.namespace} and the search attributes ${report.attributes.map((a) => a.name).join(', ')} are in place`;
  const missing = report.attributes.filter((a) => a.state !== 'registered' && a.state !== 'created').map((a) => `${a.name} (${a.state})`);
  const what = report.namespaceState === 'missing' ? `namespace ${report.namespace} does not exist` : missing.length > 0 ? `search attributes not registered on namespace ${report.namespace}: ${missing.join(', ')}` : '';
  return [what, ...report.problems, report.todo.length > 0 ? `run \`latent-worker setup\`, or: ${report.todo.join(' && ')}` : ''].filter(Boolean).join('; ');
}

// A namespace just registered reaches the server's namespace cache within seconds.
const NEW_NAMESPACE_WAIT_MS = 30_000;

async function registeredAttributes(connection: ServiceConnection, namespace: string, justCreated: boolean): Promise<Record<string, number>> {
  const deadline = Date.now() + (justCreated ? NEW_NAMESPACE_WAIT_MS : 0);
  for (;;) {
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return Object.fromEntries(Object.entries(customAttributes ?? {}).map(([name, type]) => [name, Number(type)]));
    } catch (error) {
      if (grpcCode(error) !== NOT_FOUND || Date.now() > deadline) throw error;
      await delay(500);
    }
  }
}

function attributeCommands(attributes: { name: string; type: string }[], namespace: string, cloud: boolean): string[] {
  if (cloud) return [`tcld namespace search-attributes add --namespace ${namespace} ${attributes.map((a) => `--search-attribute "${a.name}=${a.type}"`).join(' ')}`];
  // The temporal CLI takes many names but one type per command.
  const types = [...new Set(attributes.map((a) => a.type))];
  return types.map((type) => `temporal operator search-attribute create --namespace ${namespace} ${attributes.filter((a) => a.type === type).map((a) => `--name ${a.name}`).join(' ')} --type ${type}`);
}
