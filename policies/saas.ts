/**
 * A multi-tenant SaaS API (projects and members, per workspace). Tenant isolation is one rule,
 * repeated on every tenant route: the `:tenantId` in the path must equal the token's `tenant_id`
 * claim — a member of one workspace cannot name another workspace's id and get in (BOLA). Within
 * a workspace, roles decide: viewer < member < admin < owner.
 *
 * The origin still scopes every query by the tenant id (a project id alone names nothing).
 * Specified in saas.spec.ts.
 * @module
 */

import * as v from 'valibot';
import { definePolicy, jwt } from '../src/index.ts';

export const SAAS_ISSUER = 'https://auth.acme-projects.example';
export const SAAS_AUDIENCE = 'https://api.acme-projects.example';

/** `prj_` and 12 lowercase letters or digits. */
const ProjectId = v.pipe(v.string(), v.regex(/^prj_[a-z0-9]{12}$/, 'must be a project id (prj_…)'));
const TenantParams = v.strictObject({ tenantId: v.pipe(v.string(), v.regex(/^t_[a-z0-9]{3,32}$/, 'must be a workspace id (t_…)')) });
const ProjectParams = v.strictObject({ ...TenantParams.entries, projectId: ProjectId });

/** `GET …/projects?cursor=…&limit=…` */
export const ProjectListQuery = v.strictObject({
  cursor: v.optional(v.pipe(v.string(), v.maxLength(200))),
  limit: v.optional(v.pipe(v.string(), v.regex(/^(?:[1-9]|[1-9][0-9]|100)$/, 'must be 1 to 100'))),
});

export const NewProject = v.strictObject({
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(120)),
  description: v.optional(v.pipe(v.string(), v.maxLength(2000))),
});

/** `visibility` changes who outside the project sees it: admins only (fieldRoles). */
export const ProjectPatch = v.strictObject({
  name: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(120))),
  description: v.optional(v.pipe(v.string(), v.maxLength(2000))),
  visibility: v.optional(v.picklist(['private', 'workspace'])),
});

export const Invitation = v.strictObject({
  email: v.pipe(v.string(), v.email(), v.maxLength(254)),
  role: v.picklist(['viewer', 'member', 'admin']),
});

/** This workspace only, with at least this role. */
const inTenant = (role: string) => [{ name: `${role} of the workspace`, owner: { param: 'tenantId', claim: 'tenant_id' }, roles: [role] }];

export default definePolicy({
  // The load balancer's subnet: its X-Forwarded-For is believed, nobody else's.
  clientIp: { trustedProxies: ['10.0.0.0/8'] },
  transport: { requireHttps: true, hsts: { maxAge: 63072000, includeSubDomains: true, preload: true } },
  cors: { origins: ['https://app.acme-projects.example'], credentials: true, maxAge: 600 },
  authn: {
    member: jwt({
      jwksUrl: 'https://auth.acme-projects.example/.well-known/jwks.json',
      algorithms: ['ES256'],
      issuer: SAAS_ISSUER,
      audience: SAAS_AUDIENCE,
      maxLifetime: 3600,
    }),
  },
  roleHierarchy: { owner: ['admin'], admin: ['member'], member: ['viewer'] },
  rateLimits: {
    api: { limit: 600, window: '1m', by: 'principal' },
    // Invitations send email to arbitrary addresses: a business flow worth its own budget (API6).
    invites: { limit: 20, window: '1h', by: 'principal' },
  },
  limits: { maxBodyBytes: 32 * 1024 },
  routes: {
    'GET /v1/me': { authn: ['member'], allow: 'authenticated', rateLimit: ['api'], description: 'The caller: id, workspace and role.' },
    'GET /v1/tenants/:tenantId/projects': {
      authn: ['member'],
      allow: inTenant('viewer'),
      rateLimit: ['api'],
      params: TenantParams,
      query: ProjectListQuery,
    },
    'POST /v1/tenants/:tenantId/projects': { authn: ['member'], allow: inTenant('member'), rateLimit: ['api'], params: TenantParams, body: NewProject },
    'GET /v1/tenants/:tenantId/projects/:projectId': { authn: ['member'], allow: inTenant('viewer'), rateLimit: ['api'], params: ProjectParams },
    'PATCH /v1/tenants/:tenantId/projects/:projectId': {
      authn: ['member'],
      allow: inTenant('member'),
      rateLimit: ['api'],
      params: ProjectParams,
      body: ProjectPatch,
      fieldRoles: { visibility: ['admin'] },
    },
    'DELETE /v1/tenants/:tenantId/projects/:projectId': { authn: ['member'], allow: inTenant('admin'), rateLimit: ['api'], params: ProjectParams },
    'GET /v1/tenants/:tenantId/members': { authn: ['member'], allow: inTenant('viewer'), rateLimit: ['api'], params: TenantParams },
    'POST /v1/tenants/:tenantId/invitations': {
      authn: ['member'],
      allow: inTenant('admin'),
      rateLimit: ['api', 'invites'],
      params: TenantParams,
      body: Invitation,
      maxBodyBytes: 1024,
    },
    'GET /v1/tenants/:tenantId/admin/audit-log': { authn: ['member'], allow: inTenant('owner'), rateLimit: ['api'], params: TenantParams },
  },
});
