/**
 * The multi-tenant SaaS policy, specified: tenant isolation first, then roles within a workspace.
 * Runs under `npx portcullis test policies` and vitest (policies/specs.test.ts).
 */
import { defineSpec } from '../tools/testing/index.ts';
import policy from './saas.ts';

// Workspace t_acme: Olivia owns it, Ada administers, Mel is a member, Vic views.
const olivia = { sub: 'u_olivia', tenant_id: 't_acme', roles: ['owner'] };
const ada = { sub: 'u_ada', tenant_id: 't_acme', roles: ['admin'] };
const mel = { sub: 'u_mel', tenant_id: 't_acme', roles: ['member'] };
const vic = { sub: 'u_vic', tenant_id: 't_acme', roles: ['viewer'] };
// Workspace t_globex: Gus is its owner, and nothing of Acme's is his.
const gus = { sub: 'u_gus', tenant_id: 't_globex', roles: ['owner'] };

const project = '/v1/tenants/t_acme/projects/prj_0123456789ab';

export default defineSpec({
  name: 'multi-tenant SaaS API',
  policy,
  cases: [
    { request: 'GET /v1/me', as: vic, expect: 200 },
    { request: 'GET /v1/me', expect: 401, reason: 'authn.required', headers: { 'www-authenticate': 'Bearer realm="api"' } },
    { name: 'a token for another API', request: 'GET /v1/me', as: { ...vic, aud: 'https://api.other.example' }, expect: 401, reason: 'authn.wrong_audience' },

    { request: 'GET /v1/tenants/t_acme/projects', as: vic, expect: 200 },
    { request: 'GET /v1/tenants/t_acme/projects?limit=50&cursor=abc', as: vic, expect: 200 },
    { name: 'another workspace lists Acme projects', request: 'GET /v1/tenants/t_acme/projects', as: gus, expect: 403, reason: 'authz.denied' },
    { name: 'a token without tenant_id owns no workspace', request: 'GET /v1/tenants/t_acme/projects', as: { sub: 'u_nobody', roles: ['owner'] }, expect: 403, reason: 'authz.denied' },
    { name: 'tenant ids compare exactly', request: 'GET /v1/tenants/t_ACME/projects', as: vic, expect: 403, reason: 'authz.denied' },
    { name: 'a page size over 100', request: 'GET /v1/tenants/t_acme/projects?limit=1000', as: vic, expect: 422, reason: 'validate.invalid' },
    { name: 'an unknown query key', request: 'GET /v1/tenants/t_acme/projects?owner=u_gus', as: vic, expect: 422, reason: 'validate.invalid' },

    { request: { method: 'POST', path: '/v1/tenants/t_acme/projects', body: { name: 'Roadmap' } }, as: mel, expect: 200 },
    { name: 'a viewer creates a project', request: { method: 'POST', path: '/v1/tenants/t_acme/projects', body: { name: 'Roadmap' } }, as: vic, expect: 403, reason: 'authz.denied' },
    { name: 'an owner creates in another workspace', request: { method: 'POST', path: '/v1/tenants/t_acme/projects', body: { name: 'Roadmap' } }, as: gus, expect: 403, reason: 'authz.denied' },
    { name: 'a project named by the caller for another tenant', request: { method: 'POST', path: '/v1/tenants/t_acme/projects', body: { name: 'x', tenantId: 't_globex' } }, as: mel, expect: 422, reason: 'validate.invalid' },

    { request: `GET ${project}`, as: vic, expect: 200 },
    { name: 'another workspace reads an Acme project', request: `GET ${project}`, as: gus, expect: 403, reason: 'authz.denied' },
    { name: 'a malformed project id', request: 'GET /v1/tenants/t_acme/projects/..%2f..', as: vic, expect: 400 },
    { name: 'a project id of the wrong shape', request: 'GET /v1/tenants/t_acme/projects/42', as: vic, expect: 422, reason: 'validate.invalid' },

    { request: { method: 'PATCH', path: project, body: { name: 'Roadmap 2027' } }, as: mel, expect: 200 },
    { name: 'an admin changes visibility', request: { method: 'PATCH', path: project, body: { visibility: 'workspace' } }, as: ada, expect: 200 },
    { name: 'a member changes visibility (admins only)', request: { method: 'PATCH', path: project, body: { visibility: 'workspace' } }, as: mel, expect: 403, reason: 'authz.field_forbidden' },
    { name: 'a viewer edits', request: { method: 'PATCH', path: project, body: { name: 'mine now' } }, as: vic, expect: 403, reason: 'authz.denied' },

    { request: `DELETE ${project}`, as: ada, expect: 200 },
    { name: 'the owner deletes (owner implies admin)', request: `DELETE ${project}`, as: olivia, expect: 200 },
    { name: 'a member deletes', request: `DELETE ${project}`, as: mel, expect: 403, reason: 'authz.denied' },
    { name: 'another workspace owner deletes', request: `DELETE ${project}`, as: gus, expect: 403, reason: 'authz.denied' },

    { request: 'GET /v1/tenants/t_acme/members', as: vic, expect: 200 },
    { request: 'GET /v1/tenants/t_acme/members', as: gus, expect: 403, reason: 'authz.denied' },

    { request: { method: 'POST', path: '/v1/tenants/t_acme/invitations', body: { email: 'new@acme.example', role: 'member' } }, as: ada, expect: 200 },
    { name: 'a member invites', request: { method: 'POST', path: '/v1/tenants/t_acme/invitations', body: { email: 'new@acme.example', role: 'member' } }, as: mel, expect: 403, reason: 'authz.denied' },
    { name: 'an invitation as owner (not offered)', request: { method: 'POST', path: '/v1/tenants/t_acme/invitations', body: { email: 'x@acme.example', role: 'owner' } }, as: ada, expect: 422, reason: 'validate.invalid' },
    {
      name: 'an invitation body over 1 KiB',
      request: { method: 'POST', path: '/v1/tenants/t_acme/invitations', body: { email: 'x@acme.example', role: 'member', note: 'x'.repeat(2000) } },
      as: ada,
      expect: 413,
      reason: 'validate.body_too_large',
    },

    { request: 'GET /v1/tenants/t_acme/admin/audit-log', as: olivia, expect: 200 },
    { name: 'an admin reads the audit log (owners only)', request: 'GET /v1/tenants/t_acme/admin/audit-log', as: ada, expect: 403, reason: 'authz.denied' },
    { name: 'another workspace owner reads the audit log', request: 'GET /v1/tenants/t_acme/admin/audit-log', as: gus, expect: 403, reason: 'authz.denied' },

    {
      name: 'a preflight from the app',
      request: { method: 'OPTIONS', path: project, headers: { origin: 'https://app.acme-projects.example', 'access-control-request-method': 'PATCH' } },
      expect: 204,
      reason: 'cors.preflight',
      headers: { 'access-control-allow-origin': 'https://app.acme-projects.example', 'access-control-allow-credentials': 'true' },
    },
  ],
});
