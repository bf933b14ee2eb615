import { randomBytes } from 'node:crypto';
import { badRequest, expecting, keystoneError, unauthorized } from './keystoneErrors.js';
import { isObject } from './schema.js';
import { HttpError, route, type Route, type SimRequest, type SimResponse } from './server.js';
import type { ApplicationCredentialRecord, SimState, Token } from './state.js';

// /v3/users/{user_id}/application_credentials (keystone/api/users.py): a user creates, lists,
// shows and deletes its own credentials, each bound to the project of the token that made it.

const v3Time = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, '.000000');

function view(state: SimState, c: ApplicationCredentialRecord, withSecret: boolean) {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    user_id: c.user.id,
    project_id: c.project.id,
    system: null,
    expires_at: c.expiresAt ? v3Time(c.expiresAt) : null,
    // Keystone echoes what was asked for: null unless the request said true or false.
    unrestricted: c.unrestricted ? true : null,
    roles: c.roles.map((r) => ({ id: r.id, name: r.name, domain_id: null, description: null, options: { immutable: true } })),
    ...(withSecret ? { secret: c.secret } : {}),
    links: { self: `${state.baseUrl}/identity/v3/application_credentials/${c.id}` },
  };
}

export function applicationCredentialRoutes(state: SimState, authenticated: (req: SimRequest) => Token): Route[] {
  const owner = (req: SimRequest): Token => {
    const token = authenticated(req);
    // Keystone's policy: only the user itself (an admin may list and show, not create).
    if (token.user.id !== req.params.user_id) {
      throw new HttpError(keystoneError(403, 'Forbidden', 'You are not authorized to perform the requested action: identity:create_application_credential.'));
    }
    return token;
  };
  const find = (req: SimRequest, token: Token): ApplicationCredentialRecord => {
    const credential = state.applicationCredentials.get(req.params.id ?? '');
    if (!credential || credential.user !== token.user) {
      throw new HttpError(keystoneError(404, 'Not Found', `Could not find application credential: ${req.params.id}.`));
    }
    return credential;
  };
  const base = '/identity/v3/users/{user_id}/application_credentials';

  return [
    route('keystone.v3.appcreds.create', 'POST', base, (req): SimResponse => {
      const token = owner(req);
      // Application credentials cannot make more of themselves unless unrestricted.
      if (token.applicationCredential) throw unauthorized(state);
      const body = req.body.kind === 'json' ? req.body.value : undefined;
      const spec = isObject(body) ? body.application_credential : undefined;
      if (!isObject(spec)) throw expecting('application_credential', 'request body');
      if (typeof spec.name !== 'string' || spec.name === '') throw badRequest("Invalid input for field 'name': 'name' is a required property");
      if ([...state.applicationCredentials.values()].some((c) => c.user === token.user && c.name === spec.name)) {
        throw new HttpError(keystoneError(409, 'Conflict', 'Conflict occurred attempting to store application_credential - Duplicate entry.'));
      }
      const expiresAt = typeof spec.expires_at === 'string' ? new Date(spec.expires_at) : null;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw badRequest(`Invalid input for field 'expires_at': '${spec.expires_at}' is not a 'date-time'`);
      const credential = state.addApplicationCredential(token.user, {
        name: spec.name,
        secret: typeof spec.secret === 'string' ? spec.secret : randomBytes(64).toString('base64url'),
        description: typeof spec.description === 'string' ? spec.description : null,
        expiresAt,
        unrestricted: spec.unrestricted === true,
      });
      return { status: 201, json: { application_credential: view(state, credential, true) } };
    }),
    route('keystone.v3.appcreds.list', 'GET', base, (req) => {
      const token = owner(req);
      const mine = [...state.applicationCredentials.values()].filter((c) => c.user === token.user);
      const name = req.query.name;
      return {
        status: 200,
        json: {
          application_credentials: mine.filter((c) => name === undefined || c.name === name).map((c) => view(state, c, false)),
          links: { self: `${state.baseUrl}/identity/v3/users/${token.user.id}/application_credentials`, previous: null, next: null },
        },
      };
    }),
    route('keystone.v3.appcreds.show', 'GET', `${base}/{id}`, (req) => ({
      status: 200,
      json: { application_credential: view(state, find(req, owner(req)), false) },
    })),
    route('keystone.v3.appcreds.delete', 'DELETE', `${base}/{id}`, (req) => {
      state.applicationCredentials.delete(find(req, owner(req)).id);
      return { status: 204 };
    }),
  ];
}
